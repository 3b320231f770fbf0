// Package seeds embeds the reference data the system runs on: district
// boundaries, the gazetteer, teams, routing rules, calendars and defaults.
// Files here are derived from ../shared/data by cmd/seedgen (see README.md).
package seeds

import "embed"

// FS holds every seed file, read by the services at start.
//
//go:embed *
var FS embed.FS
