// Package routing decides, per event, which Slack channel and which Linear
// team a flow uses when the configuration says otherwise than the flow's
// default: "vulnerabilities of ghcr.io/stoa/* go to team SEC, checks tagged
// prod to #incidents". Rules are tried in order; for each target the first
// matching rule that names one wins. With no rules every flow keeps its
// default, so a bridge without a routing section behaves as before.
package routing

import (
	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/match"
)

// Rules is the routing table. The nil *Rules routes everything to the
// defaults.
type Rules struct {
	rules []rule
}

type rule struct {
	match.Rule
	channel, team string
}

// New builds the table from the configuration, which config.Validate has
// checked (subject patterns, filter fields and globs, a target per rule).
func New(cfg []config.Route) *Rules {
	if len(cfg) == 0 {
		return nil
	}
	r := &Rules{rules: make([]rule, 0, len(cfg))}
	for _, c := range cfg {
		r.rules = append(r.rules, rule{
			Rule:    match.Rule{Subject: c.Subject, Filter: c.Filter},
			channel: c.SlackChannel,
			team:    c.LinearTeam,
		})
	}
	return r
}

// SlackChannel returns the channel for ev: the first matching rule's
// slack_channel, or def.
func (r *Rules) SlackChannel(ev *event.Event, def string) string {
	return r.pick(ev, def, func(x rule) string { return x.channel })
}

// LinearTeam returns the team key for the tickets of ev: the first
// matching rule's linear_team, or def.
func (r *Rules) LinearTeam(ev *event.Event, def string) string {
	return r.pick(ev, def, func(x rule) string { return x.team })
}

func (r *Rules) pick(ev *event.Event, def string, target func(rule) string) string {
	if r == nil {
		return def
	}
	for _, x := range r.rules {
		if t := target(x); t != "" && x.Match(ev) {
			return t
		}
	}
	return def
}
