package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const (
	hostVersion = "3.248.0"

	defaultRunModule = "@pulumi/pulumi/cmd/run"

	pulumiConfigVar           = "PULUMI_CONFIG"
	pulumiConfigSecretKeysVar = "PULUMI_CONFIG_SECRET_KEYS" //nolint:gosec

	// Exit code with which @pulumi/pulumi's run script signals that it already showed the
	// user an actionable error: the engine should bail without printing more.
	nodeJSProcessExitedAfterShowingUserActionableMessage = 32
)

type nodeLanguageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string
	rootDir       string
	programDir    string
}

func newLanguageHost(engineAddress, tracing string) *nodeLanguageHost {
	return &nodeLanguageHost{engineAddress: engineAddress, tracing: tracing}
}

func (host *nodeLanguageHost) engine() string {
	host.mu.Lock()
	defer host.mu.Unlock()
	return host.engineAddress
}

// nodeOptions are the runtime options from Pulumi.yaml (runtime.options).
type nodeOptions struct {
	typescript   bool
	tsconfigpath string
	nodeargs     string
}

func parseOptions(options map[string]any) (nodeOptions, error) {
	opts := nodeOptions{typescript: true}
	if v, ok := options["typescript"]; ok {
		b, ok := v.(bool)
		if !ok {
			return opts, errors.New("typescript option must be a boolean")
		}
		opts.typescript = b
	}
	if v, ok := options["tsconfig"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("tsconfigpath option must be a string")
		}
		opts.tsconfigpath = s
	}
	if v, ok := options["nodeargs"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("nodeargs option must be a string")
		}
		opts.nodeargs = s
	}
	if v, ok := options["packagemanager"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("packagemanager option must be a string")
		}
		switch s {
		case "auto", "npm", "yarn", "pnpm", "bun":
		default:
			return opts, fmt.Errorf("packagemanager option must be one of auto, npm, yarn or pnpm, got %q", s)
		}
	}
	return opts, nil
}

// shellSplit splits s into words like a POSIX shell would (quotes and backslashes; no expansion).
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
			inWord = true
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			if r == '"' {
				quote = 0
			} else if r == '\\' {
				escaped = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped = true
			inWord = true
		case r == '\'' || r == '"':
			quote = r
			inWord = true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if escaped {
		return nil, fmt.Errorf("trailing backslash in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// locateModule resolves mod from programDir with node's own resolution (like the official host).
func locateModule(ctx context.Context, mod, programDir, nodeBin string) (string, error) {
	script := fmt.Sprintf(`try { console.log(require.resolve(%q)); } catch (error) { `+
		`if (error.code === 'MODULE_NOT_FOUND') { console.error("It looks like the Pulumi SDK has not been installed. `+
		`Have you run pulumi install?"); } else { console.error(error.message); } process.exit(1); }`, mod)
	cmd := exec.CommandContext(ctx, nodeBin, "-e", script)
	cmd.Dir = programDir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", errors.New(strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func programInfo(req interface{ GetInfo() *pulumirpc.ProgramInfo }) (root, program, entry string, options map[string]any) {
	info := req.GetInfo()
	if info == nil {
		return "", "", ".", map[string]any{}
	}
	options = map[string]any{}
	if info.GetOptions() != nil {
		options = info.GetOptions().AsMap()
	}
	entry = info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	return info.GetRootDirectory(), info.GetProgramDirectory(), entry, options
}

// constructArguments builds the arguments for `node <nodeargs...> <runPath> ...`, matching the
// flags the official host passes to @pulumi/pulumi/cmd/run.
func (host *nodeLanguageHost) constructArguments(req *pulumirpc.RunRequest, runPath string) []string {
	root, programDir, entry, _ := programInfo(req)
	if programDir == "" {
		programDir = req.GetPwd()
	}
	if req.GetInfo() == nil && req.GetProgram() != "" {
		entry = req.GetProgram()
	}
	args := []string{runPath}
	maybe := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	maybe("monitor", req.GetMonitorAddress())
	maybe("engine", host.engine())
	maybe("organization", req.GetOrganization())
	maybe("project", req.GetProject())
	maybe("root-directory", root)
	maybe("stack", req.GetStack())
	maybe("pwd", programDir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	maybe("query-mode", strconv.FormatBool(req.GetQueryMode()))
	maybe("parallel", strconv.Itoa(int(req.GetParallel())))
	maybe("tracing", host.tracing)
	args = append(args, entry)
	args = append(args, req.GetArgs()...)
	return args
}

// constructConfig serializes the config map the way @pulumi/pulumi expects it
// (keys in the legacy "<namespace>:config:<name>" form, which the SDK accepts).
func constructConfig(req *pulumirpc.RunRequest) (string, error) {
	cfg := req.GetConfig()
	if cfg == nil {
		return "{}", nil
	}
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		pk, err := config.ParseKey(k)
		if err != nil {
			return "", err
		}
		out[pk.Namespace()+":config:"+pk.Name()] = v
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func constructConfigSecretKeys(req *pulumirpc.RunRequest) (string, error) {
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		return "[]", nil
	}
	b, err := json.Marshal(keys)
	return string(b), err
}

// buildEnv returns the environment for the node process.
func buildEnv(base []string, req *pulumirpc.RunRequest, opts nodeOptions) ([]string, error) {
	cfg, err := constructConfig(req)
	if err != nil {
		return nil, fmt.Errorf("failed to serialize configuration: %w", err)
	}
	secretKeys, err := constructConfigSecretKeys(req)
	if err != nil {
		return nil, fmt.Errorf("failed to serialize configuration secret keys: %w", err)
	}
	env := append([]string{}, base...)
	env = append(env, pulumiConfigVar+"="+cfg, pulumiConfigSecretKeysVar+"="+secretKeys)
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfigpath != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfigpath)
	}
	return env, nil
}

func (host *nodeLanguageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	host.mu.Lock()
	defer host.mu.Unlock()
	if req.GetEngineAddress() != "" {
		host.engineAddress = req.GetEngineAddress()
	}
	host.rootDir = req.GetRootDirectory()
	host.programDir = req.GetProgramDirectory()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (host *nodeLanguageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: hostVersion}, nil
}

// GetRequiredPlugins is not implemented by the official host at v3.248 either; the engine
// asks GetRequiredPackages.
func (host *nodeLanguageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// GetRequiredPackages reports, as the official host does (sdk/nodejs/cmd/pulumi-language-nodejs
// main.go, GetRequiredPackages and getPackagesFromDir, in github.com/pulumi/pulumi), every
// package.json under a node_modules directory below the program directory whose "pulumi"
// section says `"resource": true`: plugin name (pulumi.name, or the @pulumi/ package's simple
// name), version (pulumi.version or the package's, with a leading "v") and server. The engine
// then installs the missing ones before the program runs (best effort: engine/update.go,
// ensurePluginsAreInstalled), unless PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION is set.
// Errors while walking are not fatal, as in the official host.
func (host *nodeLanguageHost) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		return &pulumirpc.GetRequiredPackagesResponse{}, nil
	}
	packages := requiredPackages(dir, false, map[string]bool{})
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

// pluginPackageJSON is what a package.json says about a resource plugin.
type pluginPackageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pulumi  struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func requiredPackages(dir string, inNodeModules bool, visited map[string]bool) []*pulumirpc.PackageDependency {
	abs, err := filepath.Abs(dir)
	if err != nil || visited[abs] {
		return nil
	}
	visited[abs] = true
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil
	}
	var out []*pulumirpc.PackageDependency
	for _, e := range entries {
		p := filepath.Join(abs, e.Name())
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			resolved, err := filepath.EvalSymlinks(p)
			if err != nil {
				continue
			}
			fi, err := os.Stat(resolved)
			if err != nil {
				continue
			}
			p, isDir = resolved, fi.IsDir()
		}
		if isDir {
			// A nested policy pack's plugins are not the program's.
			if _, err := os.Stat(filepath.Join(p, "PulumiPolicy.yaml")); err == nil {
				continue
			}
			out = append(out, requiredPackages(p, inNodeModules || filepath.Base(abs) == "node_modules", visited)...)
			continue
		}
		if !inNodeModules || e.Name() != "package.json" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var info pluginPackageJSON
		if json.Unmarshal(b, &info) != nil || !info.Pulumi.Resource {
			continue
		}
		name := info.Pulumi.Name
		if name == "" {
			if !strings.HasPrefix(info.Name, "@pulumi/") {
				continue
			}
			name = strings.TrimPrefix(info.Name, "@pulumi/")
		}
		version := info.Pulumi.Version
		if version == "" {
			version = info.Version
		}
		if version == "" {
			continue
		}
		if !strings.HasPrefix(version, "v") {
			version = "v" + version
		}
		out = append(out, &pulumirpc.PackageDependency{
			Name: name, Kind: "resource", Version: version, Server: info.Pulumi.Server,
		})
	}
	return out
}

func (host *nodeLanguageHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (host *nodeLanguageHost) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find executable 'node': %w", err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("failed to execute '%s --version'", node)
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: strings.TrimSpace(string(out))}, nil
}

// GetProgramDependencies reports the direct dependencies from package.json, with the installed
// version from node_modules when available (best effort).
func (host *nodeLanguageHost) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	_, dir, _, _ := programInfo(req)
	if dir == "" {
		dir = req.GetPwd()
	}
	deps, err := readDependencies(dir)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

func readDependencies(dir string) ([]*pulumirpc.DependencyInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("could not read package.json: %w", err)
	}
	var pkg struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return nil, fmt.Errorf("could not parse package.json: %w", err)
	}
	all := map[string]string{}
	for k, v := range pkg.DevDependencies {
		all[k] = v
	}
	for k, v := range pkg.Dependencies {
		all[k] = v
	}
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []*pulumirpc.DependencyInfo
	for _, name := range names {
		version := all[name]
		if ib, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json")); err == nil {
			var installed struct {
				Version string `json:"version"`
			}
			if json.Unmarshal(ib, &installed) == nil && installed.Version != "" {
				version = installed.Version
			}
		}
		out = append(out, &pulumirpc.DependencyInfo{Name: name, Version: version})
	}
	return out, nil
}

// InstallDependencies runs `npm install` in the program directory, streaming its output.
func (host *nodeLanguageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()

	_, dir, _, _ := programInfo(req)
	if dir == "" {
		dir = req.GetDirectory()
	}
	fmt.Fprintf(stdout, "Installing dependencies...\n\n")
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("could not find npm on the $PATH: %w", err)
	}
	cmd := exec.CommandContext(server.Context(), npm, "install")
	cmd.Dir = dir
	cmd.Stdout = struct{ io.Writer }{stdout}
	cmd.Stderr = struct{ io.Writer }{stderr}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install failed: %w", err)
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

// Run launches the Node.js program via @pulumi/pulumi/cmd/run.
func (host *nodeLanguageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on the $PATH: " + err.Error()}, nil
	}
	_, programDir, _, options := programInfo(req)
	if programDir == "" {
		programDir = req.GetPwd()
	}
	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runPath == "" {
		runPath = defaultRunModule
	}
	runPath, err = locateModule(ctx, runPath, programDir, nodeBin)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	opts, err := parseOptions(options)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	env, err := buildEnv(os.Environ(), req, opts)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	nodeargs, err := shellSplit(opts.nodeargs)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	nodeargs = append(nodeargs, host.constructArguments(req, runPath)...)
	return runNode(nodeBin, nodeargs, env, programDir), nil
}

// runNode spawns node, forwarding its output to our own stdout/stderr (which the engine reads),
// and turns the exit status into a RunResponse.
func runNode(nodeBin string, args, env []string, dir string) *pulumirpc.RunResponse {
	cmd := exec.Command(nodeBin, args...)
	// Wrap os.Stdout/os.Stderr so node gets pipes (node may switch inherited fds to
	// non-blocking mode, which breaks writes from Go).
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	cmd.Env = env
	cmd.Dir = dir
	err := cmd.Run()
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	_ = os.Stdout.Sync()
	_ = os.Stderr.Sync()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		switch code := exitErr.ExitCode(); code {
		case 0:
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited unexpectedly: %v", exitErr)}
		case nodeJSProcessExitedAfterShowingUserActionableMessage:
			return &pulumirpc.RunResponse{Bail: true}
		case -1:
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited unexpectedly: %v", exitErr)}
		default:
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}
		}
	}
	return &pulumirpc.RunResponse{
		Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
	}
}
