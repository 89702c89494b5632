// CoreDNS for the real test node (test/cluster/): only the plugins a one-node test cluster needs,
// so the build stays small. It runs as a host process on the node's bridge address and serves
// cluster.local from the apiserver (the kube-dns Service points at it through a manual
// EndpointSlice). Its own module, so CoreDNS's client-go does not move the pinned Kubernetes
// dependencies of test/control-plane/gomod/kubernetes.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The plugins' execution order: the same relative order as CoreDNS's plugin.cfg
// (core/dnsserver/zdirectives.go), restricted to the ones linked above.
var directives = []string{"bind", "ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
