package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/classify"
	"github.com/xiamen-eeb/nuisance/internal/geo"
)

const priorityUsage = `usage: nuisance priority [FILE]

Shows the yearly priority plans (点题整治) complaints are ranked by and the
weekly report puts first: the built-in plans and those of FILE (default
NUISANCE_PRIORITY), a file of the layout of seeds/priority.json whose
plans are added to the built-in ones or replace a year's. Fails, naming
the problem, when the geocoder and the reporter would refuse the file.
`

// runPriority shows the priority plans, checked as the geocoder and the
// reporter check them at start, and which plan this year's complaints
// follow.
func runPriority(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	file, helped, err := fileArg("priority", priorityUsage, "NUISANCE_PRIORITY", args, getenv, stdout, stderr)
	if err != nil || helped {
		return err
	}
	c, err := classify.NewWith(file)
	if err != nil {
		return fmt.Errorf("priority: %w", err)
	}
	ds, err := geo.LoadDistricts()
	if err != nil {
		return fmt.Errorf("priority: %w", err)
	}
	district := map[string]string{}
	for _, d := range ds.List() {
		district[d.Slug] = d.Name
	}
	plans := c.Plans()
	tw := newTable(stdout, "YEAR", "KINDS", "PRIORITY DISTRICTS", "SOURCE")
	for _, y := range plans.Years() {
		p, _ := plans.ForYear(y)
		for _, r := range p.Rules {
			kinds := c.Name(r.Category, "")
			if len(r.Subcategories) > 0 {
				names := make([]string, len(r.Subcategories))
				for i, s := range r.Subcategories {
					names[i] = c.Name(r.Category, s)
				}
				kinds = strings.Join(names, "、")
			}
			names := make([]string, len(r.Districts))
			for i, d := range r.Districts {
				names[i] = district[d]
			}
			tw.row(strconv.Itoa(y), kinds, strings.Join(names, "、"), p.Source)
		}
	}
	if err := tw.flush(); err != nil {
		return err
	}
	source := "built-in"
	if file != "" {
		source = "built-in and " + file
	}
	year := time.Now().In(plans.Location()).Year()
	switch p, ok := plans.ForYear(year); {
	case !ok:
		fmt.Fprintf(stdout, "\n%s. No plan covers %d: nothing is a priority.\n", source, year)
	case p.Latest:
		fmt.Fprintf(stdout, "\n%s. %d follows the %d plan, the latest: no %d plan is installed.\n", source, year, p.Year, year)
		fmt.Fprintf(stderr, "warning: no %d plan: add the bureau's %d 点题整治 plan in a file and set NUISANCE_PRIORITY to it\n", year, year)
	default:
		fmt.Fprintf(stdout, "\n%s. %d follows its own plan.\n", source, year)
	}
	return nil
}
