package api

import (
	_ "embed"
	"net/http"
)

// OpenAPIDocument is the OpenAPI 3.1 document of this API, served at
// /api/v1/openapi.json. openapi_test.go validates the handlers' real requests and answers
// against it, and checks that every route of Handler is in it, so it cannot drift.
//
//go:embed openapi.json
var OpenAPIDocument []byte

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, err := w.Write(OpenAPIDocument)
	return err
}
