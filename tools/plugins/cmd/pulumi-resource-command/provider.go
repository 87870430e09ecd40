package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const (
	providerName    = "command"
	providerVersion = "1.2.1"
	localCommandTok = "command:local:Command"

	envPrevStdout = "PULUMI_COMMAND_STDOUT"
	envPrevStderr = "PULUMI_COMMAND_STDERR"
)

// Input property names of command:local:Command.
var inputKeys = []resource.PropertyKey{
	"create", "update", "delete", "dir", "environment", "stdin", "interpreter",
	"triggers", "logging", "addPreviousOutputInEnv", "assetPaths", "archivePaths",
}

// replaceKeys are inputs whose change forces a replacement.
var replaceKeys = map[resource.PropertyKey]bool{"triggers": true}

// commandProvider implements pulumirpc.ResourceProviderServer for command:local:Command.
type commandProvider struct {
	pulumirpc.UnimplementedResourceProviderServer

	mu            sync.Mutex
	engineAddress string
	engineConn    *grpc.ClientConn
	engine        pulumirpc.EngineClient

	// base is cancelled by Cancel / shutdown; every command runs under it.
	base       context.Context
	cancelBase context.CancelFunc
}

func newCommandProvider(engineAddress string) *commandProvider {
	ctx, cancel := context.WithCancel(context.Background())
	return &commandProvider{
		engineAddress: engineAddress,
		base:          ctx,
		cancelBase:    cancel,
	}
}

// shutdown cancels every running command as Cancel does: SIGKILL to each direct child only.
func (p *commandProvider) shutdown() {
	p.cancelBase()
	p.mu.Lock()
	if p.engineConn != nil {
		_ = p.engineConn.Close()
		p.engineConn = nil
		p.engine = nil
	}
	p.mu.Unlock()
}

func (p *commandProvider) engineClient() pulumirpc.EngineClient {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.engine != nil || p.engineAddress == "" {
		return p.engine
	}
	conn, err := grpc.NewClient(p.engineAddress,
		grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		return nil
	}
	p.engineConn = conn
	p.engine = pulumirpc.NewEngineClient(conn)
	return p.engine
}

// logLine sends one command output line to the engine as an ephemeral info message
// (the official provider uses LogStatus, i.e. ephemeral status messages, at info severity).
func (p *commandProvider) logLine(urn, line string) {
	eng := p.engineClient()
	if eng == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = eng.Log(ctx, &pulumirpc.LogRequest{
		Severity:  pulumirpc.LogSeverity_INFO,
		Message:   line,
		Urn:       urn,
		Ephemeral: true,
	})
}

// ---- marshalling helpers ----

func unmarshal(s *structpb.Struct, label string) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, SkipNulls: true, KeepOutputValues: false,
	})
}

func marshal(m resource.PropertyMap, label string) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, SkipNulls: true,
	})
}

// unwrap removes secret / output wrappers (recursively).
func unwrap(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return unwrap(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return resource.MakeComputed(resource.NewStringProperty(""))
		}
		return unwrap(o.Element)
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]resource.PropertyValue, len(arr))
		for i, e := range arr {
			out[i] = unwrap(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		obj := v.ObjectValue()
		out := resource.PropertyMap{}
		for k, e := range obj {
			if e.IsNull() {
				continue
			}
			out[k] = unwrap(e)
		}
		return resource.NewObjectProperty(out)
	}
	return v
}

func isUnknown(v resource.PropertyValue) bool {
	return v.ContainsUnknowns()
}

// commandArgs are the decoded (plain) inputs of a Command.
type commandArgs struct {
	Create, Update, Delete *string
	Dir                    string
	Environment            map[string]string
	Stdin                  string
	Interpreter            []string
	Logging                string
	AddPreviousOutputInEnv bool
}

func stringVal(m resource.PropertyMap, k resource.PropertyKey) (*string, error) {
	v, ok := m[k]
	if !ok || v.IsNull() {
		return nil, nil
	}
	u := unwrap(v)
	if u.IsComputed() {
		return nil, fmt.Errorf("property %q is unknown", k)
	}
	if !u.IsString() {
		return nil, fmt.Errorf("property %q must be a string", k)
	}
	s := u.StringValue()
	return &s, nil
}

func decodeArgs(m resource.PropertyMap) (*commandArgs, error) {
	a := &commandArgs{Logging: "stdoutAndStderr", AddPreviousOutputInEnv: true}
	var err error
	if a.Create, err = stringVal(m, "create"); err != nil {
		return nil, err
	}
	if a.Update, err = stringVal(m, "update"); err != nil {
		return nil, err
	}
	if a.Delete, err = stringVal(m, "delete"); err != nil {
		return nil, err
	}
	if s, err := stringVal(m, "dir"); err != nil {
		return nil, err
	} else if s != nil {
		a.Dir = *s
	}
	if s, err := stringVal(m, "stdin"); err != nil {
		return nil, err
	} else if s != nil {
		a.Stdin = *s
	}
	if s, err := stringVal(m, "logging"); err != nil {
		return nil, err
	} else if s != nil && *s != "" {
		switch *s {
		case "stdout", "stderr", "stdoutAndStderr", "none":
			a.Logging = *s
		default:
			return nil, fmt.Errorf("property \"logging\" must be one of stdout, stderr, stdoutAndStderr, none; got %q", *s)
		}
	}
	if v, ok := m["addPreviousOutputInEnv"]; ok && !v.IsNull() {
		u := unwrap(v)
		if !u.IsBool() {
			return nil, fmt.Errorf("property \"addPreviousOutputInEnv\" must be a boolean")
		}
		a.AddPreviousOutputInEnv = u.BoolValue()
	}
	if v, ok := m["environment"]; ok && !v.IsNull() {
		u := unwrap(v)
		if u.ContainsUnknowns() {
			return nil, fmt.Errorf("property \"environment\" is unknown")
		}
		if !u.IsObject() {
			return nil, fmt.Errorf("property \"environment\" must be a map of strings")
		}
		a.Environment = map[string]string{}
		for k, e := range u.ObjectValue() {
			switch {
			case e.IsString():
				a.Environment[string(k)] = e.StringValue()
			case e.IsNumber() || e.IsBool():
				a.Environment[string(k)] = fmt.Sprint(e.V)
			default:
				// Never echo the value itself.
				return nil, fmt.Errorf("environment variable %q must be a string", string(k))
			}
		}
	}
	if v, ok := m["interpreter"]; ok && !v.IsNull() {
		u := unwrap(v)
		if u.ContainsUnknowns() {
			return nil, fmt.Errorf("property \"interpreter\" is unknown")
		}
		if !u.IsArray() {
			return nil, fmt.Errorf("property \"interpreter\" must be a list of strings")
		}
		for _, e := range u.ArrayValue() {
			if !e.IsString() {
				return nil, fmt.Errorf("property \"interpreter\" must be a list of strings")
			}
			a.Interpreter = append(a.Interpreter, e.StringValue())
		}
	}
	return a, nil
}

func (a *commandArgs) spec(command string, timeout float64, prev resource.PropertyMap) runSpec {
	env := map[string]string{}
	for k, v := range a.Environment {
		env[k] = v
	}
	if a.AddPreviousOutputInEnv && prev != nil {
		for key, name := range map[resource.PropertyKey]string{"stdout": envPrevStdout, "stderr": envPrevStderr} {
			s, _ := stringVal(prev, key)
			if s == nil || *s == "" {
				continue
			}
			env[name] = *s
		}
	}
	spec := runSpec{
		Command:     command,
		Interpreter: a.Interpreter,
		Dir:         a.Dir,
		Env:         env,
		Stdin:       a.Stdin,
		LogStdout:   a.Logging == "stdout" || a.Logging == "stdoutAndStderr",
		LogStderr:   a.Logging == "stderr" || a.Logging == "stdoutAndStderr",
	}
	// Whole seconds, rounded down, as the official provider's timeouts are.
	if timeout >= 1 {
		spec.Timeout = time.Duration(int64(timeout)) * time.Second
	}
	return spec
}

// buildOutputs returns the resource state: all inputs (secretness preserved) plus stdout and
// stderr. As in the official provider, stdout and stderr are plain even when an input is
// secret: a script that prints a secret puts it into the state in clear.
func buildOutputs(inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range inputs {
		if strings.HasPrefix(string(k), "__") {
			continue
		}
		out[k] = v
	}
	out["stdout"] = stdout
	out["stderr"] = stderr
	return out
}

func checkType(urn string) error {
	u, err := resource.ParseURN(urn)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid URN %q: %v", urn, err)
	}
	if string(u.Type()) != localCommandTok {
		return status.Errorf(codes.Unimplemented,
			"resource type %q is not supported by this pulumi-resource-command build (only %s)",
			string(u.Type()), localCommandTok)
	}
	return nil
}

// ---- RPC methods ----

func (p *commandProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: providerVersion}, nil
}

func (p *commandProvider) Handshake(
	_ context.Context, req *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	p.mu.Lock()
	if req.GetEngineAddress() != "" && req.GetEngineAddress() != p.engineAddress {
		p.engineAddress = req.GetEngineAddress()
		if p.engineConn != nil {
			_ = p.engineConn.Close()
		}
		p.engineConn, p.engine = nil, nil
	}
	p.mu.Unlock()
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true}, nil
}

func (p *commandProvider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	schema := map[string]any{
		"name":    providerName,
		"version": providerVersion,
		"resources": map[string]any{
			localCommandTok: map[string]any{
				"inputProperties": map[string]any{
					"create":                 map[string]any{"type": "string"},
					"update":                 map[string]any{"type": "string"},
					"delete":                 map[string]any{"type": "string"},
					"dir":                    map[string]any{"type": "string"},
					"stdin":                  map[string]any{"type": "string"},
					"logging":                map[string]any{"type": "string"},
					"addPreviousOutputInEnv": map[string]any{"type": "boolean"},
					"environment": map[string]any{"type": "object",
						"additionalProperties": map[string]any{"type": "string"}},
					"interpreter": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
					"triggers": map[string]any{"type": "array",
						"items": map[string]any{"$ref": "pulumi.json#/Any"}},
				},
				"replaceOnChanges": []string{"triggers[*]"},
				"properties": map[string]any{
					"stdout": map[string]any{"type": "string"},
					"stderr": map[string]any{"type": "string"},
				},
				"required": []string{"stdout", "stderr"},
			},
		},
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(b)}, nil
}

func (p *commandProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *commandProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "check.news")
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	if v, ok := news["logging"]; ok && !v.IsNull() {
		u := unwrap(v)
		if u.IsString() {
			switch u.StringValue() {
			case "stdout", "stderr", "stdoutAndStderr", "none":
			default:
				failures = append(failures, &pulumirpc.CheckFailure{Property: "logging",
					Reason: "logging must be one of stdout, stderr, stdoutAndStderr, none"})
			}
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

// diffInputs compares old state and new inputs on the input keys.
func diffInputs(olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	var diffs, replaces []string
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for _, k := range inputKeys {
		ov, oHas := olds[k]
		nv, nHas := news[k]
		if oHas && ov.IsNull() {
			oHas = false
		}
		if nHas && nv.IsNull() {
			nHas = false
		}
		if !oHas && !nHas {
			continue
		}
		var kind pulumirpc.PropertyDiff_Kind
		switch {
		case !oHas:
			kind = pulumirpc.PropertyDiff_ADD
		case !nHas:
			kind = pulumirpc.PropertyDiff_DELETE
		default:
			uo, un := unwrap(ov), unwrap(nv)
			if !un.ContainsUnknowns() && !uo.ContainsUnknowns() && uo.DeepEquals(un) {
				continue
			}
			kind = pulumirpc.PropertyDiff_UPDATE
		}
		diffs = append(diffs, string(k))
		if replaceKeys[k] {
			replaces = append(replaces, string(k))
			kind += 1 // ADD_REPLACE / DELETE_REPLACE / UPDATE_REPLACE follow their plain kinds
		}
		detailed[string(k)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	sort.Strings(diffs)
	sort.Strings(replaces)
	if len(diffs) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}
	}
	return &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_SOME,
		Diffs:           diffs,
		Replaces:        replaces,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}
}

func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds(), "diff.olds")
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "diff.news")
	if err != nil {
		return nil, err
	}
	return diffInputs(olds, news), nil
}

func (p *commandProvider) logger(urn string) lineLogger {
	return func(_, line string) { p.logLine(urn, line) }
}

func (p *commandProvider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetProperties(), "create.properties")
	if err != nil {
		return nil, err
	}
	u, _ := resource.ParseURN(req.GetUrn())
	id, err := resource.NewUniqueHex(u.Name(), 8, 0)
	if err != nil {
		return nil, err
	}
	unknown := resource.MakeComputed(resource.NewStringProperty(""))
	if req.GetPreview() {
		outs, err := marshal(buildOutputs(inputs, unknown, unknown), "create.preview")
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Id: id, Properties: outs}, nil
	}
	args, err := decodeArgs(inputs)
	if err != nil {
		return nil, err
	}
	var res runResult
	if args.Create != nil {
		res, err = runCommand(p.base, args.spec(*args.Create, req.GetTimeout(), nil), p.logger(req.GetUrn()))
		if err != nil {
			return nil, err
		}
	}
	outs, err := marshal(buildOutputs(inputs,
		resource.NewStringProperty(res.Stdout), resource.NewStringProperty(res.Stderr)), "create.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: outs}, nil
}

func (p *commandProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *commandProvider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds(), "update.olds")
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "update.news")
	if err != nil {
		return nil, err
	}
	oldOut := func(k resource.PropertyKey) resource.PropertyValue {
		if v, ok := olds[k]; ok {
			return v
		}
		return resource.NewStringProperty("")
	}
	var cmdText *string
	if v, _ := stringVal(news, "update"); v != nil {
		cmdText = v
	} else if v, _ := stringVal(news, "create"); v != nil {
		cmdText = v
	}
	willRun := cmdText != nil
	if !willRun {
		if uv, ok := news["update"]; ok && uv.ContainsUnknowns() {
			willRun = true
		} else if cv, ok := news["create"]; ok && cv.ContainsUnknowns() {
			willRun = true
		}
	}
	if req.GetPreview() {
		stdout, stderr := oldOut("stdout"), oldOut("stderr")
		if willRun {
			unknown := resource.MakeComputed(resource.NewStringProperty(""))
			stdout, stderr = unknown, unknown
		}
		outs, err := marshal(buildOutputs(news, stdout, stderr), "update.preview")
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: outs}, nil
	}
	args, err := decodeArgs(news)
	if err != nil {
		return nil, err
	}
	stdout, stderr := oldOut("stdout"), oldOut("stderr")
	if cmdText != nil {
		res, err := runCommand(p.base, args.spec(*cmdText, req.GetTimeout(), olds), p.logger(req.GetUrn()))
		if err != nil {
			return nil, err
		}
		stdout, stderr = resource.NewStringProperty(res.Stdout), resource.NewStringProperty(res.Stderr)
	}
	outs, err := marshal(buildOutputs(news, unwrap(stdout), unwrap(stderr)), "update.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: outs}, nil
}

func (p *commandProvider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	state, err := unmarshal(req.GetProperties(), "delete.properties")
	if err != nil {
		return nil, err
	}
	args, err := decodeArgs(state)
	if err != nil {
		return nil, err
	}
	if args.Delete == nil {
		return &emptypb.Empty{}, nil
	}
	if _, err := runCommand(p.base, args.spec(*args.Delete, req.GetTimeout(), state),
		p.logger(req.GetUrn())); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Cancel ends every running command the way the official provider's cancelled request
// contexts do: SIGKILL to the direct child; its children run on.
func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancelBase()
	return &emptypb.Empty{}, nil
}

func (p *commandProvider) Attach(_ context.Context, req *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	p.mu.Lock()
	p.engineAddress = req.GetAddress()
	if p.engineConn != nil {
		_ = p.engineConn.Close()
	}
	p.engineConn, p.engine = nil, nil
	p.mu.Unlock()
	return &emptypb.Empty{}, nil
}
