// Package pluginargs parses the command line the Pulumi engine passes to plugins.
//
// The engine passes flags such as --logtostderr, -v=9, --tracing <endpoint>, -root=<dir>
// followed by positional arguments (the engine address first). Unknown flags are accepted and
// ignored so that future engine versions do not break the plugins.
package pluginargs

import "strings"

// Args is the parsed command line.
type Args struct {
	Flags      map[string]string // flag name (without dashes) -> value ("true" for bare booleans)
	Positional []string
}

// valueFlags take their value from the next argument when not given as --flag=value.
var valueFlags = map[string]bool{
	"tracing": true, "root": true, "tsconfig": true, "nodeargs": true, "packagemanager": true,
	"v": true, "log_dir": true, "log_backtrace_at": true, "vmodule": true, "stderrthreshold": true,
}

// Parse parses args (without the program name).
func Parse(args []string) Args {
	out := Args{Flags: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out.Positional = append(out.Positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			out.Positional = append(out.Positional, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if eq := strings.IndexByte(name, '='); eq >= 0 {
			out.Flags[name[:eq]] = name[eq+1:]
			continue
		}
		if valueFlags[name] && i+1 < len(args) && name != "v" {
			out.Flags[name] = args[i+1]
			i++
			continue
		}
		if name == "v" && i+1 < len(args) && isNumber(args[i+1]) {
			out.Flags[name] = args[i+1]
			i++
			continue
		}
		out.Flags[name] = "true"
	}
	return out
}

// EngineAddress returns the first positional argument, if any.
func (a Args) EngineAddress() string {
	if len(a.Positional) > 0 {
		return a.Positional[0]
	}
	return ""
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
