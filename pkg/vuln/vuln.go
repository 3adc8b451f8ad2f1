// Package vuln decides what a vulnerability report means for its sinks: the
// policy that keeps the findings worth acting on, the state last reported
// per artifact (a JetStream KeyValue bucket), the diff of a report against
// that state, and the grouping of one image's reports from many workloads.
//
// A consumer applies the policy to a report's findings, reads the state of
// the report's group (GroupKey), diffs, acts on the change, and writes the
// new state with compare-and-set: a lost race (ErrConflict) means another
// replica moved the state first, and the consumer reads and diffs again.
// The event itself keeps every finding; the policy only shapes effects.
package vuln
