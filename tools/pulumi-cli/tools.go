//go:build tools

// Package tools pins the Pulumi CLI main package so that `go mod tidy` keeps
// the github.com/pulumi/pulumi/pkg/v3 requirement (and its go.sum entries).
// Build with: go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
	// The version package is stamped via -ldflags -X; importing it keeps
	// github.com/pulumi/pulumi/sdk/v3 a direct requirement.
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/version"
)
