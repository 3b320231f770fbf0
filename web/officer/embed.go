package officer

import "embed"

// staticFS holds the console's files; index.html is a template that gives
// every asset URL its content hash.
//
//go:embed static
var staticFS embed.FS
