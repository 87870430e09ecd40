//go:build tools

// Pins actionlint, which lints .github/workflows (scripts/toolchain.sh builds it).
package tools

import _ "github.com/rhysd/actionlint"
