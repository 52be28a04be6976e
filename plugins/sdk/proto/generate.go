// Package proto holds the gRPC contract between the tandem host and resource
// agent plugins (agent.proto) and the code generated from it. Regenerate with
// `go generate ./plugins/sdk/proto` (needs protoc, protoc-gen-go and
// protoc-gen-go-grpc on PATH).
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative agent.proto
