//go:build tools

// Pins cosign, which signs and attests each published layer (components/layerSigning.ts)
// and verifies them (scripts/verify.ts); scripts/toolchain.sh builds it.
package tools

import _ "github.com/sigstore/cosign/v2/cmd/cosign"
