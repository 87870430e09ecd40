package main

// How a command runs, matching the official pulumi-command v1.2.1 provider in everything a
// stack can observe (provider/pkg/provider/local/commandOutputs.go, func run, in
// github.com/pulumi/pulumi-command):
//
//   - `/bin/sh -c <command>` (or the interpreter) started with exec.CommandContext: a timeout
//     (customTimeouts) or a Cancel kills the direct child only, with SIGKILL. Its children are
//     not signalled, and Wait then waits for every process still holding the output pipes.
//   - Output lines are logged as they are: nothing is redacted.
//   - A failure's error text is `<err>: running "<command>":\n<stdout and stderr>`, again with
//     nothing redacted.
//
// This stand-in must not be safer than the official provider: the project's scripts bound
// their own run time and never print a secret, and the tests here prove that they do.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
)

// runSpec describes one command execution.
type runSpec struct {
	Command     string
	Interpreter []string
	Dir         string
	Env         map[string]string
	Stdin       string
	LogStdout   bool
	LogStderr   bool
	Timeout     time.Duration // 0 = no timeout
}

// runResult is the captured output of a successful execution.
type runResult struct {
	Stdout string
	Stderr string
}

// lineLogger receives output lines; stream is "stdout" or "stderr".
type lineLogger func(stream, line string)

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

// lineWriter hands complete lines to a logger.
type lineWriter struct {
	mu     *sync.Mutex
	stream string
	log    lineLogger
	rest   []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rest = append(w.rest, p...)
	for {
		i := bytes.IndexByte(w.rest, '\n')
		if i < 0 {
			break
		}
		w.log(w.stream, strings.TrimRight(string(w.rest[:i]), "\r"))
		w.rest = w.rest[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.rest) > 0 {
		w.log(w.stream, string(w.rest))
		w.rest = nil
	}
}

// runCommand executes spec. ctx (Cancel, provider shutdown) and spec.Timeout end it the way
// exec.CommandContext does: SIGKILL to the direct child, then Wait for the pipes to close.
func runCommand(ctx context.Context, spec runSpec, log lineLogger) (runResult, error) {
	interp := spec.Interpreter
	if len(interp) == 0 {
		interp = []string{"/bin/sh", "-c"}
	}
	args := append(append([]string{}, interp[1:]...), spec.Command)
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, spec.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, interp[0], args...)
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

	var stdoutBuf, stderrBuf, combined lockedBuffer
	var logMu sync.Mutex
	outs := []io.Writer{&stdoutBuf, &combined}
	errs := []io.Writer{&stderrBuf, &combined}
	var writers []*lineWriter
	if log != nil {
		if spec.LogStdout {
			w := &lineWriter{mu: &logMu, stream: "stdout", log: log}
			writers = append(writers, w)
			outs = append(outs, w)
		}
		if spec.LogStderr {
			w := &lineWriter{mu: &logMu, stream: "stderr", log: log}
			writers = append(writers, w)
			errs = append(errs, w)
		}
	}
	// Non-*os.File writers: os/exec copies through pipes and Wait returns only when every
	// process holding them has closed them, as in the official provider.
	cmd.Stdout = io.MultiWriter(outs...)
	cmd.Stderr = io.MultiWriter(errs...)

	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	for _, w := range writers {
		w.flush()
	}
	if err != nil {
		return runResult{}, fmt.Errorf("%w: running %q:\n%s", err, spec.Command, combined.String())
	}
	return runResult{
		Stdout: strings.TrimSuffix(stdoutBuf.String(), "\n"),
		Stderr: strings.TrimSuffix(stderrBuf.String(), "\n"),
	}, nil
}
