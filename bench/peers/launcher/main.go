// Command thv-transparent-proxy runs ToolHive's transparent proxy (its
// pkg/transport/proxy/transparent package) in front of one streamable-HTTP MCP
// server, assembled the way ToolHive's `thv proxy` command assembles it: a
// request body limit (ToolHive's default size), Origin validation for a
// loopback bind, the no-OIDC authentication middleware (a synthetic local
// user), no Prometheus handler, no health checks, not remote.
//
// Why it exists: bench/peers.ts (npm run bench:peers) measures mcpfleet's
// proxyrunner side by side with ToolHive's proxy, and `thv` itself refuses to
// start without a container runtime. This launcher is mcpfleet's own code; it
// only calls ToolHive's exported API, pinned in go.mod.
//
// It prints one line "listening on 127.0.0.1:PORT" once the listener accepts,
// and stops gracefully (5 s) on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stacklok/toolhive/pkg/auth"
	"github.com/stacklok/toolhive/pkg/bodylimit"
	"github.com/stacklok/toolhive/pkg/transport/middleware/origin"
	"github.com/stacklok/toolhive/pkg/transport/proxy/transparent"
	"github.com/stacklok/toolhive/pkg/transport/types"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on (loopback)")
	port := flag.Int("port", 0, "port to listen on (required)")
	target := flag.String("target-uri", "", "URL of the upstream MCP server, e.g. http://127.0.0.1:8080 (required)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()
	if *port <= 0 || *target == "" {
		fmt.Fprintln(os.Stderr, "usage: thv-transparent-proxy --port N --target-uri URL [--host 127.0.0.1] [--log-level warn]")
		os.Exit(2)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "bad --log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if err := run(*host, *port, *target); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(host string, port int, target string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	middlewares := []types.NamedMiddleware{{
		Name:     bodylimit.MiddlewareType,
		Function: bodylimit.Middleware(bodylimit.DefaultMaxRequestBodySize),
	}}
	if allowed := origin.ResolveAllowedOrigins(host, port, nil); len(allowed) > 0 {
		middlewares = append(middlewares, types.NamedMiddleware{Name: origin.MiddlewareType, Function: origin.NewHandler(allowed)})
	}
	authMiddleware, authInfoHandler, err := auth.GetAuthenticationMiddleware(ctx, nil)
	if err != nil {
		return fmt.Errorf("authentication middleware: %w", err)
	}
	middlewares = append(middlewares, types.NamedMiddleware{Name: "auth", Function: authMiddleware})

	proxy := transparent.NewTransparentProxy(
		host, port, target,
		nil,             // no Prometheus handler, as `thv proxy`
		authInfoHandler, // nil without OIDC
		nil,             // no prefix handlers
		false,           // no health checks
		false,           // not a remote server
		"",              // transport type, as `thv proxy`
		nil, nil,        // no health-check or unauthorized callbacks
		"",    // no endpoint prefix
		false, // do not trust X-Forwarded-* headers
		middlewares...,
	)
	if err := proxy.Start(ctx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if err := waitListening(host, port, 10*time.Second); err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", net.JoinHostPort(host, fmt.Sprint(port)))

	<-ctx.Done()
	if err := proxy.CloseListener(); err != nil {
		slog.Warn("closing the listener", "error", err)
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return proxy.Stop(shutdown)
}

// waitListening returns once a TCP connection to host:port succeeds (Start
// serves in a goroutine), or an error after timeout.
func waitListening(host string, port int, timeout time.Duration) error {
	address := net.JoinHostPort(host, fmt.Sprint(port))
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", address, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %s: %w", address, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
