package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runSpec describes one command execution.
type runSpec struct {
	Command     string
	Interpreter []string
	Dir         string
	Env         map[string]string // extra environment (never printed)
	Stdin       string            // never printed
	LogStdout   bool
	LogStderr   bool
	Timeout     time.Duration // 0 = no timeout
	// Secrets lists the sensitive strings (every secret input: environment values, stdin)
	// that are redacted from errors and logs; plain values are left readable.
	Secrets []string
}

// runResult is the captured output of a successful execution.
type runResult struct {
	Stdout string
	Stderr string
}

// lineLogger receives output lines; stream is "stdout" or "stderr".
type lineLogger func(stream, line string)

// processRegistry tracks running process groups so that Cancel / shutdown can kill them.
type processRegistry struct {
	mu       sync.Mutex
	groups   map[int]chan struct{} // pgid -> closed when the group leader has been waited for
	shutdown bool
	grace    time.Duration
}

func newProcessRegistry(grace time.Duration) *processRegistry {
	return &processRegistry{groups: map[int]chan struct{}{}, grace: grace}
}

func (r *processRegistry) add(pgid int, done chan struct{}) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutdown {
		return false
	}
	r.groups[pgid] = done
	return true
}

func (r *processRegistry) isShutdown() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shutdown
}

func (r *processRegistry) remove(pgid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.groups, pgid)
}

// killAll terminates every tracked process group (SIGTERM, then SIGKILL after the grace period)
// and, if final is set, refuses to start new ones.
func (r *processRegistry) killAll(final bool) {
	r.mu.Lock()
	if final {
		r.shutdown = true
	}
	groups := make(map[int]chan struct{}, len(r.groups))
	for k, v := range r.groups {
		groups[k] = v
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for pgid, done := range groups {
		wg.Add(1)
		go func(pgid int, done chan struct{}) {
			defer wg.Done()
			killGroup(pgid, done, r.grace)
		}(pgid, done)
	}
	wg.Wait()
}

// killGroup sends SIGTERM to the process group, waits up to grace for the leader to exit,
// then SIGKILLs the whole group (always, so that lingering children that ignored SIGTERM die too).
func killGroup(pgid int, done <-chan struct{}, grace time.Duration) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		// Leader exited; give the rest of the group a brief moment, then make sure.
		if groupAlive(pgid) {
			select {
			case <-t.C:
			case <-waitGroupGone(pgid):
			}
		}
	case <-t.C:
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

func waitGroupGone(pgid int) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for i := 0; i < 200 && groupAlive(pgid); i++ {
			time.Sleep(25 * time.Millisecond)
		}
	}()
	return ch
}

// errCancelled is returned when a command was killed because of Cancel / shutdown.
var errCancelled = errors.New("command was cancelled")

// redactor replaces sensitive strings with a placeholder.
type redactor struct {
	secrets []string
}

const redacted = "[secret]"

func newRedactor(spec runSpec) *redactor {
	set := map[string]bool{}
	add := func(s string, minLen int) {
		s2 := strings.TrimSpace(s)
		for _, c := range []string{s, s2} {
			if len(c) >= minLen && c != "" {
				set[c] = true
			}
		}
	}
	// Only secret inputs are redacted (every secret string found in the inputs, including
	// secret environment values and a secret stdin). Plain values stay readable, so a
	// failure can say which layer and which check failed.
	for _, s := range spec.Secrets {
		add(s, 1)
		for _, line := range strings.Split(s, "\n") {
			add(line, 3)
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	// Longest first so that a secret containing another one is replaced as a whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return &redactor{secrets: out}
}

func (r *redactor) apply(s string) string {
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCommand executes spec in its own process group. ctx cancellation (Cancel RPC / shutdown)
// and spec.Timeout kill the whole group. Errors never contain Env values or Stdin.
func runCommand(ctx context.Context, reg *processRegistry, spec runSpec, log lineLogger) (runResult, error) {
	red := newRedactor(spec)
	interp := spec.Interpreter
	if len(interp) == 0 {
		interp = []string{"/bin/sh", "-c"}
	}
	args := append(append([]string{}, interp[1:]...), spec.Command)
	shortCmd := red.apply(spec.Command)

	cmd := exec.Command(interp[0], args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if spec.Dir != "" {
		cmd.Dir = spec.Dir
	} else if wd, err := os.Getwd(); err == nil {
		cmd.Dir = wd
	}
	env := os.Environ()
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+spec.Env[k])
	}
	cmd.Env = env
	if spec.Stdin != "" {
		cmd.Stdin = strings.NewReader(spec.Stdin)
	}
	// Do not let a child that keeps stdin open block us forever after the leader exited.
	cmd.WaitDelay = 2 * time.Second

	outR, outW, err := os.Pipe()
	if err != nil {
		return runResult{}, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		_ = outR.Close()
		_ = outW.Close()
		return runResult{}, err
	}
	cmd.Stdout = outW
	cmd.Stderr = errW

	var stdoutBuf, stderrBuf, combined lockedBuffer
	var readers sync.WaitGroup
	var logMu sync.Mutex // serialize log callbacks from the two streams
	pump := func(stream string, r *os.File, buf *lockedBuffer, enabled bool) {
		defer readers.Done()
		br := bufio.NewReader(r)
		for {
			line, rerr := br.ReadString('\n')
			if line != "" {
				_, _ = buf.Write([]byte(line))
				_, _ = combined.Write([]byte(line))
				if enabled && log != nil {
					logMu.Lock()
					log(stream, red.apply(strings.TrimRight(line, "\r\n")))
					logMu.Unlock()
				}
			}
			if rerr != nil {
				return
			}
		}
	}

	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{outR, outW, errR, errW} {
			_ = f.Close()
		}
		return runResult{}, fmt.Errorf("failed to start command %q: %s", shortCmd, red.apply(err.Error()))
	}
	// The child owns the write ends now.
	_ = outW.Close()
	_ = errW.Close()
	readers.Add(2)
	go pump("stdout", outR, &stdoutBuf, spec.LogStdout)
	go pump("stderr", errR, &stderrBuf, spec.LogStderr)
	readersDone := make(chan struct{})
	go func() {
		readers.Wait()
		close(readersDone)
	}()

	pgid := cmd.Process.Pid
	leaderDone := make(chan struct{})
	waitErr := make(chan error, 1)
	go func() {
		werr := cmd.Wait()
		if errors.Is(werr, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
			werr = nil
		}
		close(leaderDone)
		waitErr <- werr
	}()
	if !reg.add(pgid, leaderDone) {
		// Provider is shutting down: do not let the command run.
		killGroup(pgid, leaderDone, 0)
	}
	defer reg.remove(pgid)

	var timeoutC <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout)
		defer t.Stop()
		timeoutC = t.C
	}
	timeoutErr := fmt.Errorf("command timed out after %s; its process group was killed", spec.Timeout)

	var reason error
	killed := false
	kill := func(why error) {
		killGroup(pgid, leaderDone, reg.grace)
		reason = why
		killed = true
	}

	// Phase 1: wait for the group leader.
	select {
	case err = <-waitErr:
	case <-timeoutC:
		kill(timeoutErr)
		<-waitErr
	case <-ctx.Done():
		kill(errCancelled)
		<-waitErr
	}
	if !killed && reg.isShutdown() {
		reason = errCancelled
	}

	// Phase 2: collect the remaining output. Background children that inherited the pipes
	// keep them open (like the official provider, we wait for them), but never beyond the
	// timeout or a cancellation.
	if !killed {
		select {
		case <-readersDone:
		case <-timeoutC:
			kill(timeoutErr)
		case <-ctx.Done():
			kill(errCancelled)
		}
	}
	if killed {
		select {
		case <-readersDone:
		case <-time.After(2 * time.Second):
			// Something outside the process group still holds the pipes.
			_ = outR.Close()
			_ = errR.Close()
			<-readersDone
		}
	}
	_ = outR.Close()
	_ = errR.Close()

	if reason == nil && err != nil {
		reason = err
	}
	if reason != nil {
		return runResult{}, fmt.Errorf("%s: running %q:\n%s", red.apply(reason.Error()), shortCmd,
			red.apply(combined.String()))
	}
	return runResult{
		Stdout: strings.TrimSuffix(stdoutBuf.String(), "\n"),
		Stderr: strings.TrimSuffix(stderrBuf.String(), "\n"),
	}, nil
}
