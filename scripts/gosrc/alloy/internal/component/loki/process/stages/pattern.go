package stages

// Keelson's replacement for stage.pattern (laid over the module copy by scripts/bootstrap). The
// upstream stage parses LogQL patterns with github.com/grafana/loki/v3, an AGPL-3.0 module this
// project does not build; Keelson's configs use no pattern stage, so this build refuses one.

import (
	"errors"
	"log/slog"
)

// PatternConfig keeps the upstream block's attributes, so a config that has one still decodes and
// is then refused with a clear message instead of an unknown block.
type PatternConfig struct {
	Pattern          string  `alloy:"pattern,attr"`
	Source           *string `alloy:"source,attr,optional"`
	LabelsFromGroups bool    `alloy:"labels_from_groups,attr,optional"`
}

func newPatternStage(_ *slog.Logger, _ PatternConfig) (Stage, error) {
	return nil, errors.New("stage.pattern is not part of Keelson's Alloy build (it needs the AGPL-licensed Loki module)")
}
