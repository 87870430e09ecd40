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
	return newCommandProvider("")
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

func TestSecretInputsStaySecretButOutputsArePlain(t *testing.T) {
	p := newTestProvider()
	outs, err := create(t, p, resource.PropertyMap{
		"create":      str(`echo "len=${#TOKEN}"; echo "token=$TOKEN" >&2`),
		"environment": envMap(map[string]resource.PropertyValue{"TOKEN": secret("s3cr3t-value")}),
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !outs["environment"].ContainsSecrets() {
		t.Fatal("environment output lost its secretness")
	}
	// The official provider's stdout and stderr are plain even when an input is secret, so a
	// script that prints a secret puts it into the state in clear.
	if outs["stdout"].ContainsSecrets() || outs["stderr"].ContainsSecrets() {
		t.Fatal("stdout/stderr must be plain, as in the official provider")
	}
	if got := plainString(outs["stdout"]); got != "len=12" {
		t.Fatalf("stdout = %q", got)
	}
	if got := plainString(outs["stderr"]); got != "token=s3cr3t-value" {
		t.Fatalf("stderr = %q", got)
	}
}

func TestErrorTextIsTheOfficialOneWithNothingRedacted(t *testing.T) {
	var logged []string
	command := `echo "token is $TOKEN"; cat; echo "pw=$PW" >&2; exit 3`
	spec := runSpec{
		Command:   command,
		Env:       map[string]string{"TOKEN": "hunter2-very-secret", "PW": "correct horse"},
		Stdin:     "stdin-secret-line\n",
		LogStdout: true,
		LogStderr: true,
	}
	_, err := runCommand(context.Background(), spec, func(_, line string) { logged = append(logged, line) })
	if err == nil {
		t.Fatal("expected error")
	}
	want := "exit status 3: running " + strconv.Quote(command) + ":\n" +
		"token is hunter2-very-secret\nstdin-secret-line\npw=correct horse\n"
	if err.Error() != want {
		t.Fatalf("error text\n got %q\nwant %q", err.Error(), want)
	}
	wantLogs := []string{"token is hunter2-very-secret", "stdin-secret-line", "pw=correct horse"}
	if strings.Join(logged, "|") != strings.Join(wantLogs, "|") {
		t.Fatalf("logged %q, want %q", logged, wantLogs)
	}

	// Through the provider, with secret inputs: still nothing redacted.
	p := newTestProvider()
	_, err = create(t, p, resource.PropertyMap{
		"create":      str(`echo "$K"; cat; exit 1`),
		"environment": envMap(map[string]resource.PropertyValue{"K": secret("xyzzy-123")}),
		"stdin":       secret("my-stdin"),
	}, 0)
	if err == nil || !strings.Contains(err.Error(), "xyzzy-123\nmy-stdin") {
		t.Fatalf("the official provider prints secret output in clear; got %v", err)
	}
}

func TestLoggingNone(t *testing.T) {
	var logged []string
	res, err := runCommand(context.Background(), runSpec{Command: "echo a; echo b >&2"},
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

func killAfterTest(t *testing.T, pid int) {
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
}

// A timeout SIGKILLs the direct child only: a grandchild that does not hold the output pipes
// runs on, and the command returns at once with the official error text.
func TestTimeoutKillsOnlyTheDirectChild(t *testing.T) {
	p := newTestProvider()
	pidFile := filepath.Join(t.TempDir(), "pid")
	command := `sleep 30 >/dev/null 2>&1 & echo $! > ` + pidFile + `; echo started; wait`
	start := time.Now()
	_, err := create(t, p, resource.PropertyMap{"create": str(command)}, 1)
	pid := readPid(t, pidFile)
	killAfterTest(t, pid)
	want := "signal: killed: running " + strconv.Quote(command) + ":\nstarted\n"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %q", err, want)
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Fatalf("returned after %s", d)
	}
	if !processAlive(pid) {
		t.Fatal("the grandchild was killed; the official provider kills only the direct child")
	}
}

// A grandchild that holds the output pipes keeps the command from returning until it exits,
// timeout or not (os/exec's Wait waits for the copies to finish).
func TestTimeoutWaitsForGrandchildrenHoldingThePipes(t *testing.T) {
	start := time.Now()
	_, err := runCommand(context.Background(), runSpec{Command: `sleep 3 & wait`, Timeout: time.Second}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "signal: killed: running") {
		t.Fatalf("expected the kill, got %v", err)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Fatalf("returned after %s, before the grandchild closed the pipes", d)
	}
}

// Timeouts are whole seconds, rounded down: 0.9 s is no timeout at all.
func TestFractionalTimeoutsRoundDown(t *testing.T) {
	args, _ := decodeArgs(resource.PropertyMap{})
	if s := args.spec("true", 1.9, nil); s.Timeout != time.Second {
		t.Fatalf("1.9 s -> %s", s.Timeout)
	}
	if s := args.spec("true", 0.9, nil); s.Timeout != 0 {
		t.Fatalf("0.9 s -> %s", s.Timeout)
	}
}

func TestCancelKillsOnlyTheDirectChild(t *testing.T) {
	p := newTestProvider()
	pidFile := filepath.Join(t.TempDir(), "pid")
	errCh := make(chan error, 1)
	go func() {
		_, err := create(t, p, resource.PropertyMap{
			"create": str(`sleep 30 >/dev/null 2>&1 & echo $! > ` + pidFile + `; wait`),
		}, 0)
		errCh <- err
	}()
	pid := readPid(t, pidFile)
	killAfterTest(t, pid)
	if _, err := p.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errCh:
		if err == nil || !strings.HasPrefix(err.Error(), "signal: killed: running") {
			t.Fatalf("expected the kill, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("create did not return after Cancel")
	}
	if !processAlive(pid) {
		t.Fatal("the grandchild was killed; the official provider kills only the direct child")
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
