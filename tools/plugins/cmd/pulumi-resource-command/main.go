// Command pulumi-resource-command is a small Pulumi resource provider compatible with the
// @pulumi/command 1.2.1 SDK for the command:local:Command resource.
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

	prov := newCommandProvider(engineAddress)

	cancel := make(chan bool)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	stopped := make(chan struct{})
	stop := func() {
		select {
		case <-stopped:
			return
		default:
		}
		close(stopped)
		prov.shutdown()
		close(cancel)
	}
	go func() {
		<-sigs
		stop()
	}()

	if engineAddress != "" {
		ctx, cancelHC := context.WithCancel(context.Background())
		defer cancelHC()
		// When the engine goes away, shut down (killing running commands).
		go func() {
			<-ctx.Done()
			select {
			case <-stopped:
			default:
				stop()
			}
		}()
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancelHC); err != nil {
			fmt.Fprintf(os.Stderr, "pulumi-resource-command: could not start health check: %v\n", err)
			os.Exit(1)
		}
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, prov)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: fatal: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		prov.shutdown()
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: stopped serving: %v\n", err)
		os.Exit(1)
	}
	prov.shutdown()
}
