package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const testURN = "urn:pulumi:dev::proj::command:local:Command::mycmd"

func newTestProvider() *commandProvider {
	return newCommandProvider("", 1*time.Second)
}

func mustMarshal(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshal(m, "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustUnmarshal(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := unmarshal(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func str(s string) resource.PropertyValue { return resource.NewStringProperty(s) }

func secret(s string) resource.PropertyValue { return resource.MakeSecret(str(s)) }

func envMap(kv map[string]resource.PropertyValue) resource.PropertyValue {
	m := resource.PropertyMap{}
	for k, v := range kv {
		m[resource.PropertyKey(k)] = v
	}
	return resource.NewObjectProperty(m)
}

func create(t *testing.T, p *commandProvider, inputs resource.PropertyMap, timeout float64) (resource.PropertyMap, error) {
	t.Helper()
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: testURN, Properties: mustMarshal(t, inputs), Timeout: timeout,
	})
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(resp.GetId(), "mycmd") {
		t.Fatalf("unexpected id %q", resp.GetId())
	}
	return mustUnmarshal(t, resp.GetProperties()), nil
}

func plainString(v resource.PropertyValue) string {
	return unwrap(v).StringValue()
}

func TestDiffSemantics(t *testing.T) {
	p := newTestProvider()
	base := resource.PropertyMap{
		"create":      str("echo hi"),
		"environment": envMap(map[string]resource.PropertyValue{"A": str("1")}),
		"triggers":    resource.NewArrayProperty([]resource.PropertyValue{str("t1")}),
		"stdout":      str("hi"),
		"stderr":      str(""),
	}
	diff := func(news resource.PropertyMap) *pulumirpc.DiffResponse {
		t.Helper()
		resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
			Urn: testURN, Olds: mustMarshal(t, base), News: mustMarshal(t, news),
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	inputs := func() resource.PropertyMap {
		return resource.PropertyMap{
			"create":      str("echo hi"),
			"environment": envMap(map[string]resource.PropertyValue{"A": str("1")}),
			"triggers":    resource.NewArrayProperty([]resource.PropertyValue{str("t1")}),
		}
	}

	// No change (outputs stdout/stderr in olds must be ignored).
	if r := diff(inputs()); r.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE || len(r.GetReplaces()) != 0 {
		t.Fatalf("expected no diff, got %v", r)
	}
	// Secretness change only is not a diff.
	n := inputs()
	n["environment"] = envMap(map[string]resource.PropertyValue{"A": secret("1")})
	if r := diff(n); r.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("expected no diff for secretness change, got %v", r)
	}
	// In-place updates.
	for _, tc := range []struct {
		key resource.PropertyKey
		val resource.PropertyValue
	}{
		{"create", str("echo bye")},
		{"update", str("echo upd")},
		{"delete", str("echo del")},
		{"dir", str("/tmp")},
		{"environment", envMap(map[string]resource.PropertyValue{"A": str("2")})},
		{"stdin", str("input")},
		{"interpreter", resource.NewArrayProperty([]resource.PropertyValue{str("/bin/bash"), str("-c")})},
	} {
		n := inputs()
		n[tc.key] = tc.val
		r := diff(n)
		if r.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(r.GetReplaces()) != 0 {
			t.Fatalf("%s: expected in-place update, got %v", tc.key, r)
		}
		if len(r.GetDiffs()) != 1 || r.GetDiffs()[0] != string(tc.key) {
			t.Fatalf("%s: unexpected diffs %v", tc.key, r.GetDiffs())
		}
		if k := r.GetDetailedDiff()[string(tc.key)].GetKind(); k != pulumirpc.PropertyDiff_UPDATE &&
			k != pulumirpc.PropertyDiff_ADD {
			t.Fatalf("%s: unexpected kind %v", tc.key, k)
		}
	}
	// Removing an input is an update too.
	n = inputs()
	delete(n, "environment")
	if r := diff(n); r.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(r.GetReplaces()) != 0 {
		t.Fatalf("expected update on removal, got %v", r)
	}
	// Triggers change forces replacement.
	n = inputs()
	n["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{str("t2")})
	r := diff(n)
	if r.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(r.GetReplaces()) != 1 || r.GetReplaces()[0] != "triggers" {
		t.Fatalf("expected replace on triggers, got %v", r)
	}
	if r.GetDetailedDiff()["triggers"].GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE {
		t.Fatalf("expected UPDATE_REPLACE, got %v", r.GetDetailedDiff()["triggers"])
	}
	// Unknown trigger (preview) forces replacement as well.
	n = inputs()
	n["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.MakeComputed(str(""))})
	if r := diff(n); len(r.GetReplaces()) != 1 {
		t.Fatalf("expected replace on unknown triggers, got %v", r)
	}
}

func TestCreateUpdateDeleteWithEnvAndStdin(t *testing.T) {
	p := newTestProvider()
	dir := t.TempDir()
	marker := filepath.Join(dir, "deleted")
	inputs := resource.PropertyMap{
		"create": str(`printf 'env=%s\n' "$MY_VAR"; cat; echo err >&2`),
		"update": str(`echo "prev=$PULUMI_COMMAND_STDOUT"`),
		"delete": str(`echo "$PULUMI_COMMAND_STDOUT" > ` + marker),
		"dir":    str(dir),
		"environment": envMap(map[string]resource.PropertyValue{
			"MY_VAR": str("value1"),
		}),
		"stdin": str("from-stdin\n"),
	}
	outs, err := create(t, p, inputs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := plainString(outs["stdout"]); got != "env=value1\nfrom-stdin" {
		t.Fatalf("stdout = %q", got)
	}
	if got := plainString(outs["stderr"]); got != "err" {
		t.Fatalf("stderr = %q", got)
	}
	for _, k := range []resource.PropertyKey{"create", "update", "delete", "dir", "environment", "stdin"} {
		if _, ok := outs[k]; !ok {
			t.Fatalf("output %q missing", k)
		}
	}

	// Update runs `update` with the previous stdout in the environment.
	upd, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: testURN, Id: "mycmd", Olds: mustMarshal(t, outs), News: mustMarshal(t, inputs),
	})
	if err != nil {
		t.Fatal(err)
	}
	uouts := mustUnmarshal(t, upd.GetProperties())
	if got := plainString(uouts["stdout"]); got != "prev=env=value1\nfrom-stdin" {
		t.Fatalf("update stdout = %q", got)
	}

	// Update without `update` re-runs `create`; addPreviousOutputInEnv=false hides previous output.
	in2 := inputs.Copy()
	delete(in2, "update")
	in2["create"] = str(`echo "c2:${PULUMI_COMMAND_STDOUT:-none}"`)
	in2["addPreviousOutputInEnv"] = resource.NewBoolProperty(false)
	upd2, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: testURN, Id: "mycmd", Olds: mustMarshal(t, uouts), News: mustMarshal(t, in2),
	})
	if err != nil {
		t.Fatal(err)
	}
	u2 := mustUnmarshal(t, upd2.GetProperties())
	if got := plainString(u2["stdout"]); got != "c2:none" {
		t.Fatalf("update2 stdout = %q", got)
	}

	// Preview create/update must not run anything.
	previewMarker := filepath.Join(dir, "preview-ran")
	pv := resource.PropertyMap{"create": str("touch " + previewMarker)}
	presp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: testURN, Properties: mustMarshal(t, pv), Preview: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !mustUnmarshal(t, presp.GetProperties())["stdout"].IsComputed() {
		t.Fatal("expected unknown stdout in preview")
	}
	if _, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: testURN, Olds: mustMarshal(t, outs), News: mustMarshal(t, pv), Preview: true,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(previewMarker); err == nil {
		t.Fatal("preview ran the command")
	}

	// Delete runs `delete` with previous output in env.
	if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Urn: testURN, Id: "mycmd", Properties: mustMarshal(t, uouts),
	}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != "prev=env=value1\nfrom-stdin" {
		t.Fatalf("delete saw %q", string(b))
	}

	// Delete without `delete` is a no-op; Read returns state unchanged.
	if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Urn: testURN, Properties: mustMarshal(t, resource.PropertyMap{"create": str("true")}),
	}); err != nil {
		t.Fatal(err)
	}
	st := mustMarshal(t, outs)
	rr, err := p.Read(context.Background(), &pulumirpc.ReadRequest{Urn: testURN, Id: "x", Properties: st})
	if err != nil || rr.GetId() != "x" || rr.GetProperties() != st {
		t.Fatalf("read: %v %v", rr, err)
	}
}

func TestInterpreterAndDefaultShell(t *testing.T) {
	p := newTestProvider()
	outs, err := create(t, p, resource.PropertyMap{
		"create":      str("print('py' if False else 'custom')"),
		"interpreter": resource.NewArrayProperty([]resource.PropertyValue{str("/bin/sh"), str("-c"), str(`echo custom`)}),
	}, 0)
	// interpreter + command: /bin/sh -c 'echo custom' <command> => $0 is the command; prints "custom".
	if err != nil {
		t.Fatal(err)
	}
	if got := plainString(outs["stdout"]); got != "custom" {
		t.Fatalf("stdout = %q", got)
	}
}

func TestSecretsStaySecret(t *testing.T) {
	p := newTestProvider()
	outs, err := create(t, p, resource.PropertyMap{
		"create":      str(`echo "len=${#TOKEN}"`),
		"environment": envMap(map[string]resource.PropertyValue{"TOKEN": secret("s3cr3t-value")}),
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !outs["environment"].ContainsSecrets() {
		t.Fatal("environment output lost its secretness")
	}
	if !outs["stdout"].IsSecret() || !outs["stderr"].IsSecret() {
		t.Fatal("stdout/stderr must be secret when an input is secret")
	}
	if got := plainString(outs["stdout"]); got != "len=12" {
		t.Fatalf("stdout = %q", got)
	}
	// Without secrets, outputs are plain.
	plain, err := create(t, p, resource.PropertyMap{"create": str("echo x")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if plain["stdout"].IsSecret() {
		t.Fatal("stdout should not be secret")
	}
}

func TestErrorNeverContainsSecretEnvOrStdin(t *testing.T) {
	var logged []string
	spec := runSpec{
		Command:   `echo "token is $TOKEN"; cat; echo "plain output"; echo "layer is $LAYER"; echo "pw=$PW" >&2; exit 3`,
		Env:       map[string]string{"TOKEN": "hunter2-very-secret", "PW": "correct horse", "LAYER": "layer02-python-tools"},
		Stdin:     "stdin-secret-line\n",
		Secrets:   []string{"hunter2-very-secret", "correct horse", "stdin-secret-line\n"},
		LogStdout: true,
		LogStderr: true,
	}
	reg := newProcessRegistry(time.Second)
	_, err := runCommand(context.Background(), reg, spec, func(_, line string) { logged = append(logged, line) })
	if err == nil {
		t.Fatal("expected error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "plain output") {
		t.Fatalf("error lacks status/output: %q", msg)
	}
	// A plain (non-secret) value stays readable: errors must be able to name the layer.
	if !strings.Contains(msg, "layer is layer02-python-tools") {
		t.Fatalf("error redacted a plain value: %q", msg)
	}
	for _, s := range []string{"hunter2-very-secret", "correct horse", "stdin-secret-line"} {
		if strings.Contains(msg, s) {
			t.Fatalf("error leaks %q: %q", s, msg)
		}
		for _, l := range logged {
			if strings.Contains(l, s) {
				t.Fatalf("log leaks %q: %q", s, l)
			}
		}
	}
	if len(logged) < 3 {
		t.Fatalf("expected output lines to be logged, got %v", logged)
	}

	// Through the provider: secret in env, failing command.
	p := newTestProvider()
	_, err = create(t, p, resource.PropertyMap{
		"create":      str(`echo "$K"; exit 1`),
		"environment": envMap(map[string]resource.PropertyValue{"K": secret("xyzzy-123")}),
		"stdin":       secret("my-stdin"),
	}, 0)
	if err == nil || strings.Contains(err.Error(), "xyzzy-123") || strings.Contains(err.Error(), "my-stdin") {
		t.Fatalf("bad error: %v", err)
	}
}

func TestLoggingNone(t *testing.T) {
	var logged []string
	reg := newProcessRegistry(time.Second)
	res, err := runCommand(context.Background(), reg, runSpec{Command: "echo a; echo b >&2"},
		func(_, line string) { logged = append(logged, line) })
	if err != nil {
		t.Fatal(err)
	}
	if len(logged) != 0 || res.Stdout != "a" || res.Stderr != "b" {
		t.Fatalf("logged=%v res=%+v", logged, res)
	}
	args, err := decodeArgs(resource.PropertyMap{"logging": str("none")})
	if err != nil {
		t.Fatal(err)
	}
	s := args.spec("true", 0, nil)
	if s.LogStdout || s.LogStderr {
		t.Fatal("logging none must disable logs")
	}
	args, _ = decodeArgs(resource.PropertyMap{})
	if s := args.spec("true", 0, nil); !s.LogStdout || !s.LogStderr {
		t.Fatal("default logging must be stdoutAndStderr")
	}
	args, _ = decodeArgs(resource.PropertyMap{"logging": str("stderr")})
	if s := args.spec("true", 0, nil); s.LogStdout || !s.LogStderr {
		t.Fatal("logging stderr")
	}
}

func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// Zombies count as dead.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z"
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !processAlive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("process %d survived", pid)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pid file %s not written", path)
	return 0
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	p := newTestProvider()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	start := time.Now()
	// A child that ignores SIGTERM must still die (SIGKILL after grace).
	_, err := create(t, p, resource.PropertyMap{
		"create": str(`sh -c 'trap "" TERM; exec sleep 30' & echo $! > ` + pidFile + `; wait`),
	}, 1)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("expected timeout error, got %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took too long: %s", time.Since(start))
	}
	waitDead(t, readPid(t, pidFile))
}

func TestTimeoutWithBackgroundChildAfterLeaderExit(t *testing.T) {
	reg := newProcessRegistry(500 * time.Millisecond)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	// The leader exits at once but a background child holds stdout open.
	_, err := runCommand(context.Background(), reg, runSpec{
		Command: `sleep 30 & echo $! > ` + pidFile, Timeout: time.Second,
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("expected timeout error, got %v", err)
	}
	waitDead(t, readPid(t, pidFile))
}

func TestCancelKillsProcessGroup(t *testing.T) {
	p := newTestProvider()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	errCh := make(chan error, 1)
	go func() {
		_, err := create(t, p, resource.PropertyMap{
			"create": str(`sleep 30 & echo $! > ` + pidFile + `; wait`),
		}, 0)
		errCh <- err
	}()
	pid := readPid(t, pidFile)
	if _, err := p.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errCh:
		if err == nil || !strings.Contains(err.Error(), "cancelled") {
			t.Fatalf("expected cancellation error, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("create did not return after Cancel")
	}
	waitDead(t, pid)
}

func TestShutdownKillsProcessGroup(t *testing.T) {
	p := newTestProvider()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	errCh := make(chan error, 1)
	go func() {
		_, err := create(t, p, resource.PropertyMap{
			"create": str(`sleep 30 & echo $! > ` + pidFile + `; wait`),
		}, 0)
		errCh <- err
	}()
	pid := readPid(t, pidFile)
	p.shutdown()
	waitDead(t, pid)
	if err := <-errCh; err == nil {
		t.Fatal("expected error after shutdown")
	}
}

func TestUnknownTypeRejected(t *testing.T) {
	p := newTestProvider()
	_, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn:  "urn:pulumi:dev::proj::command:remote:Command::x",
		News: mustMarshal(t, resource.PropertyMap{}),
	})
	if err == nil || !strings.Contains(err.Error(), "command:remote:Command") {
		t.Fatalf("expected unsupported type error, got %v", err)
	}
}

func TestPluginInfoAndConfigure(t *testing.T) {
	p := newTestProvider()
	info, _ := p.GetPluginInfo(context.Background(), &emptypb.Empty{})
	if info.GetVersion() != "1.2.1" {
		t.Fatalf("version %q", info.GetVersion())
	}
	c, _ := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{})
	if !c.GetAcceptSecrets() || !c.GetSupportsPreview() {
		t.Fatalf("configure %v", c)
	}
}
