package vaulttest

import (
	"net/http"
	"strconv"
	"time"
)

// kvSecret is one KV v2 path: its versions, oldest first (version i+1 at
// index i).
type kvSecret struct {
	versions []kvVersion
}

type kvVersion struct {
	data    map[string]any
	created time.Time
}

// Put writes a new version of the KV v2 secret at path (under the KV mount,
// without "data/") and returns its version number, as a client write would.
// Use it to rotate a secret under a running client.
func (s *Server) Put(path string, data map[string]string) int {
	d := make(map[string]any, len(data))
	for k, v := range data {
		d[k] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kvPut(path, d)
}

func (s *Server) kvPut(path string, data map[string]any) int {
	sec, ok := s.kv[path]
	if !ok {
		sec = &kvSecret{}
		s.kv[path] = sec
	}
	sec.versions = append(sec.versions, kvVersion{data: data, created: s.now()})
	return len(sec.versions)
}

func versionMetadata(v kvVersion, n int) map[string]any {
	return map[string]any{
		"created_time":    v.created.UTC().Format(time.RFC3339Nano),
		"custom_metadata": nil,
		"deletion_time":   "",
		"destroyed":       false,
		"version":         n,
	}
}

func (s *Server) kvRead(path, version string) reply {
	n := 0
	if version != "" {
		v, err := strconv.Atoi(version)
		if err != nil || v < 0 {
			return errorReply(http.StatusBadRequest, "invalid version")
		}
		n = v
	}
	sec, ok := s.kv[path]
	if ok && n == 0 {
		n = len(sec.versions)
	}
	if !ok || n > len(sec.versions) {
		s.counts.KVReads[KVRead{Path: path}]++
		return notFound
	}
	s.counts.KVReads[KVRead{Path: path, Version: n}]++
	v := sec.versions[n-1]
	return secretReply(map[string]any{
		"data":     v.data,
		"metadata": versionMetadata(v, n),
	}, nil, nil)
}

func (s *Server) kvWrite(path string, body map[string]any) reply {
	data, ok := body["data"].(map[string]any)
	if !ok {
		return errorReply(http.StatusBadRequest, "no data provided")
	}
	if opts, ok := body["options"].(map[string]any); ok {
		if cas, ok := opts["cas"].(float64); ok {
			current := 0
			if sec, ok := s.kv[path]; ok {
				current = len(sec.versions)
			}
			if int(cas) != current {
				return errorReply(http.StatusBadRequest, "check-and-set parameter did not match the current version")
			}
		}
	}
	n := s.kvPut(path, data)
	return secretReply(versionMetadata(s.kv[path].versions[n-1], n), nil, nil)
}

func (s *Server) kvMetadata(path string) reply {
	sec, ok := s.kv[path]
	if !ok {
		return notFound
	}
	versions := make(map[string]any, len(sec.versions))
	for i, v := range sec.versions {
		versions[strconv.Itoa(i+1)] = map[string]any{
			"created_time":  v.created.UTC().Format(time.RFC3339Nano),
			"deletion_time": "",
			"destroyed":     false,
		}
	}
	last := sec.versions[len(sec.versions)-1]
	return secretReply(map[string]any{
		"cas_required":         false,
		"created_time":         sec.versions[0].created.UTC().Format(time.RFC3339Nano),
		"current_version":      len(sec.versions),
		"custom_metadata":      nil,
		"delete_version_after": "0s",
		"max_versions":         0,
		"oldest_version":       0,
		"updated_time":         last.created.UTC().Format(time.RFC3339Nano),
		"versions":             versions,
	}, nil, nil)
}
