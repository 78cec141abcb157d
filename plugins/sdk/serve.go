package sdk

import (
	"context"
	"io"
	"os"
	"runtime/debug"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// LogLevelEnv is the environment variable through which an agent tells a
// driver process the lowest level to log at: trace, debug, info, warn or
// error. Info when unset.
const LogLevelEnv = "PASSMAN_DRIVER_LOG_LEVEL"

// logOutput is the process's stderr as it was at start. Serve points
// os.Stderr elsewhere; the agent reads log lines from the original one.
var logOutput io.Writer = os.Stderr

var rootLogger = sync.OnceValue(func() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv(LogLevelEnv))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Output:     logOutput,
		JSONFormat: true,
		Level:      level,
	})
})

// Logger returns the logger a driver logs through, named name (a part of
// the driver, or empty for the driver as a whole). It writes JSON lines to
// the process's stderr, which the agent reads and logs under the driver's
// name. Log no credential, in a message or a value.
func Logger(name string) hclog.Logger {
	if name == "" {
		return rootLogger()
	}
	return rootLogger().Named(name)
}

// Serve runs d as a driver plugin and returns when the agent that started
// the process is done with it. A driver's main calls Serve and nothing else.
// Run by hand, the process says it is a plugin and exits.
func Serve(d Driver) {
	log := Logger("")
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         PluginSet(d),
		GRPCServer:      newGRPCServer(log),
		Logger:          log,
	})
}

// newGRPCServer returns the function go-plugin makes the driver's gRPC
// server with.
func newGRPCServer(log hclog.Logger) func([]grpc.ServerOption) *grpc.Server {
	return func(opts []grpc.ServerOption) *grpc.Server {
		opts = append(opts, grpc.ChainUnaryInterceptor(recoverPanics(log)),
			grpc.ChainStreamInterceptor(recoverStreamPanics(log)))
		return grpc.NewServer(opts...)
	}
}

// recoverPanics turns a driver's panic into an error for the one request
// that caused it, so that the process and the other requests go on. The
// panic's value is not logged, since it could hold anything; the stack
// says where it happened.
func recoverPanics(log hclog.Logger) grpc.UnaryServerInterceptor {
	return func(
		ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler,
	) (resp any, err error) {
		defer func() {
			if recover() != nil {
				log.Error("driver panicked", "method", info.FullMethod,
					"stack", string(debug.Stack()))
				resp, err = nil, status.Error(codes.Internal, "the driver panicked")
			}
		}()
		return next(ctx, req)
	}
}

// recoverStreamPanics is recoverPanics for a streaming request.
func recoverStreamPanics(log hclog.Logger) grpc.StreamServerInterceptor {
	return func(
		srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler,
	) (err error) {
		defer func() {
			if recover() != nil {
				log.Error("driver panicked", "method", info.FullMethod,
					"stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "the driver panicked")
			}
		}()
		return next(srv, ss)
	}
}
