package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestConstructArguments(t *testing.T) {
	host := newLanguageHost("127.0.0.1:5000", "")
	req := &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:6000",
		Organization:   "org",
		Project:        "proj",
		Stack:          "dev",
		DryRun:         true,
		Parallel:       16,
		Args:           []string{"x"},
		Info: &pulumirpc.ProgramInfo{
			RootDirectory: "/root/p", ProgramDirectory: "/root/p/prog", EntryPoint: ".",
		},
	}
	got := host.constructArguments(req, "/run.js")
	want := []string{"/run.js", "--monitor", "127.0.0.1:6000", "--engine", "127.0.0.1:5000",
		"--organization", "org", "--project", "proj", "--root-directory", "/root/p", "--stack", "dev",
		"--pwd", "/root/p/prog", "--dry-run", "--query-mode", "false", "--parallel", "16", ".", "x"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	host.tracing = "http://trace"
	req.DryRun = false
	got = host.constructArguments(req, "/run.js")
	s := strings.Join(got, " ")
	if strings.Contains(s, "--dry-run") || !strings.Contains(s, "--tracing http://trace") {
		t.Fatalf("unexpected args %q", s)
	}
}

func TestParseOptionsAndEnv(t *testing.T) {
	opts, err := parseOptions(map[string]any{})
	if err != nil || !opts.typescript {
		t.Fatalf("default options: %+v %v", opts, err)
	}
	opts, err = parseOptions(map[string]any{"typescript": false, "nodeargs": "--max-old-space-size=4096 --trace-warnings",
		"tsconfig": "tsconfig.pulumi.json"})
	if err != nil || opts.typescript || opts.tsconfigpath != "tsconfig.pulumi.json" {
		t.Fatalf("options: %+v %v", opts, err)
	}
	if _, err := parseOptions(map[string]any{"typescript": "yes"}); err == nil {
		t.Fatal("expected error for non-bool typescript")
	}
	req := &pulumirpc.RunRequest{
		Config:           map[string]string{"proj:name": "v", "aws:region": "r"},
		ConfigSecretKeys: []string{"proj:name"},
	}
	env, err := buildEnv([]string{"A=B"}, req, nodeOptions{typescript: true, tsconfigpath: "x.json"})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	var cfg map[string]string
	if err := json.Unmarshal([]byte(m["PULUMI_CONFIG"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["proj:config:name"] != "v" || cfg["aws:config:region"] != "r" {
		t.Fatalf("config %v", cfg)
	}
	if m["PULUMI_CONFIG_SECRET_KEYS"] != `["proj:name"]` || m["PULUMI_NODEJS_TYPESCRIPT"] != "true" ||
		m["PULUMI_NODEJS_TSCONFIG_PATH"] != "x.json" || m["A"] != "B" {
		t.Fatalf("env %v", m)
	}
	env, _ = buildEnv(nil, &pulumirpc.RunRequest{}, nodeOptions{})
	if strings.Contains(strings.Join(env, " "), "PULUMI_NODEJS_TYPESCRIPT") {
		t.Fatal("typescript=false must not set PULUMI_NODEJS_TYPESCRIPT")
	}
}

func TestShellSplit(t *testing.T) {
	got, err := shellSplit(`--a "b c" 'd e' f\ g`)
	if err != nil || !reflect.DeepEqual(got, []string{"--a", "b c", "d e", "f g"}) {
		t.Fatalf("%q %v", got, err)
	}
	if got, _ := shellSplit(""); len(got) != 0 {
		t.Fatalf("%q", got)
	}
	if _, err := shellSplit(`"open`); err == nil {
		t.Fatal("expected error")
	}
}

func TestRunNodeExitCodes(t *testing.T) {
	if r := runNode("/bin/sh", []string{"-c", "exit 0"}, nil, ""); r.GetError() != "" || r.GetBail() {
		t.Fatalf("%v", r)
	}
	if r := runNode("/bin/sh", []string{"-c", "exit 32"}, nil, ""); r.GetError() != "" || !r.GetBail() {
		t.Fatalf("expected bail, got %v", r)
	}
	if r := runNode("/bin/sh", []string{"-c", "exit 3"}, nil, ""); !strings.Contains(r.GetError(), "non-zero exit code: 3") {
		t.Fatalf("%v", r)
	}
	if r := runNode("/nonexistent/node", nil, nil, ""); !strings.Contains(r.GetError(), "could not run language executor") {
		t.Fatalf("%v", r)
	}
}

func TestProgramInfoOptions(t *testing.T) {
	opts, _ := structpb.NewStruct(map[string]any{"typescript": false})
	req := &pulumirpc.RunRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: "/p", Options: opts}}
	_, dir, entry, o := programInfo(req)
	if dir != "/p" || entry != "." || o["typescript"] != false {
		t.Fatalf("%s %s %v", dir, entry, o)
	}
}

// The project's own node_modules: the three provider packages it depends on are reported, with
// the versions their package.json files carry, as the official host reports them.
func TestRequiredPackagesFromTheProjectsNodeModules(t *testing.T) {
	repo, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repo, "node_modules/@pulumi/command/package.json")); err != nil {
		t.Skip("node_modules not installed")
	}
	resp, err := newLanguageHost("", "").GetRequiredPackages(context.Background(), &pulumirpc.GetRequiredPackagesRequest{
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: repo},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range resp.GetPackages() {
		if p.GetKind() != "resource" {
			t.Fatalf("kind %q", p.GetKind())
		}
		got[p.GetName()] = p.GetVersion()
	}
	for name, pkg := range map[string]string{"command": "@pulumi/command", "docker": "@pulumi/docker", "github": "@pulumi/github"} {
		b, err := os.ReadFile(filepath.Join(repo, "node_modules", pkg, "package.json"))
		if err != nil {
			t.Fatal(err)
		}
		var info pluginPackageJSON
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatal(err)
		}
		want := info.Pulumi.Version
		if want == "" {
			want = info.Version
		}
		if got[name] != "v"+strings.TrimPrefix(want, "v") {
			t.Fatalf("%s: got %q, want v%s (all: %v)", name, got[name], want, got)
		}
	}
}
