// Command pulumi-language-nodejs is a minimal Pulumi language host for Node.js programs,
// compatible with @pulumi/pulumi 3.248.0 (it runs @pulumi/pulumi/cmd/run from the program's
// node_modules, like the official host).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"layerstack/tools/plugins/internal/pluginargs"
)

func main() {
	args := pluginargs.Parse(os.Args[1:])
	engineAddress := args.EngineAddress()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		cancel()
		close(cancelChannel)
	}()

	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start health check: %v\n", err)
			os.Exit(1)
		}
	}

	host := newLanguageHost(engineAddress, args.Flags["tracing"])
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start language host RPC server: %v\n", err)
		os.Exit(1)
	}
	// Print the port so that the engine knows how to reach us.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: language host RPC stopped serving: %v\n", err)
		os.Exit(1)
	}
}
