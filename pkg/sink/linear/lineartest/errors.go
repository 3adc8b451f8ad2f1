package lineartest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// apiError is one GraphQL error in Linear's shape, with the HTTP status the
// whole answer gets. The shapes are described, with their sources, in
// README.md.
type apiError struct {
	status      int
	message     string
	ext         map[string]any
	path        []any
	locations   []gqlerror.Location
	unsupported bool // the fake, not the request, is at fault
}

func (e *apiError) Error() string { return e.message }

func (e *apiError) json() map[string]any {
	m := map[string]any{"message": e.message}
	if len(e.path) > 0 {
		m["path"] = e.path
	}
	if len(e.locations) > 0 {
		locs := make([]map[string]int, len(e.locations))
		for i, l := range e.locations {
			locs[i] = map[string]int{"line": l.Line, "column": l.Column}
		}
		m["locations"] = locs
	}
	if e.ext != nil {
		m["extensions"] = e.ext
	}
	return m
}

// at records where in the document and the answer the error happened, if
// not recorded yet.
func (e *apiError) at(f *ast.Field, path []any) *apiError {
	if e.path == nil {
		e.path = slices.Clone(path)
	}
	if e.locations == nil && f != nil && f.Position != nil {
		e.locations = []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	return e
}

func asAPIError(err error) *apiError {
	var e *apiError
	if errors.As(err, &e) {
		return e
	}
	return unsupported("%v", err)
}

// validationFailed is Apollo's answer to a document that does not validate
// against the schema (a misspelled field, a wrong argument type).
func validationFailed(msg string, locs []gqlerror.Location) *apiError {
	return &apiError{
		status:    http.StatusBadRequest,
		message:   msg,
		locations: locs,
		ext: map[string]any{
			"code":                   "GRAPHQL_VALIDATION_FAILED",
			"type":                   "graphql error",
			"userError":              true,
			"userPresentableMessage": msg,
			"http":                   map[string]any{"status": http.StatusBadRequest, "headers": map[string]any{}},
		},
	}
}

// variableInvalid is the answer to variables that do not coerce to the
// operation's variable types. It carries the same code as a document that
// does not validate: the request is wrong, and only fixing it helps.
func variableInvalid(err error) *apiError {
	msg := err.Error()
	var ge *gqlerror.Error
	if errors.As(err, &ge) {
		msg = fmt.Sprintf("Variable %q got invalid value: %s", "$"+pathVariable(ge.Path), ge.Message)
	}
	return validationFailed(msg, nil)
}

// pathVariable is the variable name in a path like variable.input.priority.
func pathVariable(p ast.Path) string {
	if len(p) > 1 {
		if n, ok := p[1].(ast.PathName); ok {
			return string(n)
		}
	}
	return p.String()
}

func badRequest(msg string) *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		message: msg,
		ext:     map[string]any{"code": "BAD_REQUEST", "type": "graphql error", "userError": true},
	}
}

func unauthenticated() *apiError {
	return &apiError{
		status:  http.StatusUnauthorized,
		message: "Authentication required, not authenticated",
		ext: map[string]any{
			"type":                   "authentication error",
			"code":                   "AUTHENTICATION_ERROR",
			"statusCode":             http.StatusUnauthorized,
			"userError":              true,
			"userPresentableMessage": "You need to authenticate to access this operation.",
			"meta":                   map[string]any{},
			"http":                   map[string]any{"status": http.StatusUnauthorized},
		},
	}
}

func rateLimited() *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		message: "Rate limit exceeded",
		ext: map[string]any{
			"type":                   "ratelimited",
			"code":                   "RATELIMITED",
			"statusCode":             http.StatusTooManyRequests,
			"userError":              true,
			"userPresentableMessage": "Rate limit exceeded. Please wait before making more requests.",
			"meta":                   map[string]any{},
		},
	}
}

func internalError() *apiError {
	return &apiError{
		status:  http.StatusInternalServerError,
		message: "Internal server error",
		ext: map[string]any{
			"type":       "internal error",
			"code":       "INTERNAL_SERVER_ERROR",
			"statusCode": http.StatusInternalServerError,
			"userError":  false,
		},
	}
}

// notFound is Linear's answer to an id that names nothing: HTTP 200, data
// null, code INPUT_ERROR.
func notFound(entity string) *apiError {
	return &apiError{
		status:  http.StatusOK,
		message: "Entity not found: " + entity,
		ext: map[string]any{
			"type":                   "invalid input",
			"code":                   "INPUT_ERROR",
			"statusCode":             http.StatusBadRequest,
			"userError":              true,
			"userPresentableMessage": "Could not find referenced " + entity + ".",
		},
	}
}

// conflict is Linear's answer to a create whose client-chosen id exists.
func conflict(entity, id string) *apiError {
	return &apiError{
		status:  http.StatusOK,
		message: "conflict on insert of " + entity,
		ext: map[string]any{
			"type":                   "invalid input",
			"code":                   "INPUT_ERROR",
			"statusCode":             http.StatusBadRequest,
			"userError":              true,
			"userPresentableMessage": fmt.Sprintf("Entity %s with id %s already exists.", entity, id),
		},
	}
}

// invalidInput is Linear's answer to an argument its validators reject
// (priority 7, an id that is not a UUID).
func invalidInput(format string, args ...any) *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		message: "Argument Validation Error",
		ext: map[string]any{
			"type":                   "invalid input",
			"code":                   "INVALID_INPUT",
			"statusCode":             http.StatusBadRequest,
			"userError":              true,
			"userPresentableMessage": fmt.Sprintf(format, args...),
		},
	}
}

// unsupported marks a request the fake cannot answer faithfully. It is the
// fake's gap, not Linear's behaviour: New(t) fails the test.
func unsupported(format string, args ...any) *apiError {
	msg := "lineartest: " + fmt.Sprintf(format, args...) + " is not implemented by the fake"
	return &apiError{
		status:      http.StatusBadRequest,
		message:     msg,
		unsupported: true,
		ext:         map[string]any{"code": "LINEARTEST_UNSUPPORTED", "type": "other", "userPresentableMessage": msg},
	}
}
