package n8n

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// The test events are built by hand with invented data (see
// testdata/README.md); their ids are fixed so the goldens are stable.

var testTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func checkEvent(status bridgev1.CheckStatus, tags ...string) *event.Event {
	kind := event.KindCheckDown
	if status == bridgev1.CheckStatus_CHECK_STATUS_UP {
		kind = event.KindCheckUp
	}
	const id = "0b7c1e2a-0000-4000-8000-000000000001"
	ev := event.New(kind, "/webhooks/healthchecks", "check/"+id,
		event.CheckKey(id, kind, testTime), testTime)
	ev.Id = "6f1c2f0e-5d4b-4a39-8d43-0c1f2a3b4c5d"
	ev.Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId:      id,
		Name:         "Database Backup",
		Slug:         "database-backup",
		Status:       status,
		ChangedAt:    timestamppb.New(testTime),
		Tags:         tags,
		LastPingBody: "pg_dump: error: connection refused",
		ExitStatus:   1,
		LastPing:     timestamppb.New(testTime.Add(-time.Minute)),
		DetailsUrl:   "https://hc.example.org/checks/" + id + "/details/",
	}}
	return ev
}

func releaseEvent(owner, repo string) *event.Event {
	ev := event.New(event.KindReleasePublished, "/webhooks/github", owner+"/"+repo+"@26.6.1",
		event.ReleaseKey(owner, repo, "26.6.1", false), testTime)
	ev.Id = "3d9a7c61-1b2e-4f0a-9c8d-7e6f5a4b3c2d"
	ev.Data = &bridgev1.Event_ReleasePublished{ReleasePublished: &bridgev1.ReleasePublished{
		Owner:       owner,
		Repo:        repo,
		Tag:         "26.6.1",
		Name:        "26.6.1",
		Url:         "https://github.com/" + owner + "/" + repo + "/releases/tag/26.6.1",
		Body:        "## Highlights\n- \"quoted\" <b>notes</b> & more",
		PublishedAt: timestamppb.New(testTime),
		Origin:      "webhook",
	}}
	return ev
}

func vulnEvent(artifact string, sev ...bridgev1.Severity) *event.Event {
	ev := event.New(event.KindVulnerabilityFound, "/webhooks/trivy", artifact,
		event.VulnerabilityKey(artifact, "sha256:1111"), testTime)
	ev.Id = "9e8d7c6b-5a49-4382-a716-253443526170"
	rep := &bridgev1.VulnerabilityReport{
		Artifact:  &bridgev1.Artifact{Kind: "container_image", Name: artifact, Digest: "sha256:1111"},
		Counts:    map[string]uint32{},
		ScannedAt: timestamppb.New(testTime),
		Scanner:   "trivy",
	}
	for i, s := range sev {
		rep.Findings = append(rep.Findings, &bridgev1.Finding{
			Id:               "CVE-2026-000" + string(rune('1'+i)),
			Package:          "openssl",
			InstalledVersion: "3.0.13-r0",
			FixedVersion:     "3.0.14-r0",
			Severity:         s,
			Title:            "openssl: an invented flaw",
			PrimaryUrl:       "https://avd.aquasec.com/nvd/cve-2026-000" + string(rune('1'+i)),
			Target:           artifact + " (alpine 3.19.1)",
		})
		rep.Counts[s.String()[len("SEVERITY_"):]]++
	}
	ev.Data = &bridgev1.Event_VulnerabilityReport{VulnerabilityReport: rep}
	return ev
}
