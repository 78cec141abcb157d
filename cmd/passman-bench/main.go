// Command passman-bench is PassMan's load generator. It starts a real
// server on a temporary data directory (Pebble on disk, HTTPS on loopback,
// every audit record synced) and measures, at several numbers of
// concurrent clients, how many checkouts and database-only resets per
// second the server answers and with what latency. Then it enrolls an
// agent process and measures resets changed on file targets through NATS,
// the agent and its driver plugin, with the CPU time each process spends
// per reset.
//
//	go run ./cmd/passman-bench [-duration 5s] [-clients 1,16,64]
//	go run ./cmd/passman-bench -e2e-only -target-dir /dev/shm
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/server"
	"github.com/passman-dev/passman/server/model"
)

func main() {
	server.TuneGC()
	duration := flag.Duration("duration", 5*time.Second, "how long each measurement runs")
	clients := flag.String("clients", "1,16,64", "comma-separated numbers of concurrent clients")
	accounts := flag.Int("accounts", 256, "accounts to spread the load over")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the measurements to this file")
	e2eOnly := flag.Bool("e2e-only", false, "measure only the end-to-end resets")
	flag.StringVar(&agentLogLevel, "agent-log-level", "info", "the agent's log level in the "+
		"end-to-end measurements")
	flag.StringVar(&targetDir, "target-dir", "", "directory of the end-to-end measurements' "+
		"target files; default the system's temporary directory")
	flag.BoolVar(&checkoutOnly, "checkout-only", false, "measure only checkouts")
	binDir := flag.String("bin", "bin", "directory of the passman binary and driver plugins, "+
		"for the end-to-end measurements; empty skips them")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "passman-bench:", err)
			os.Exit(1)
		}
		// The profile covers the measurements, not the setup before them.
		var once sync.Once
		startProfile = func() {
			once.Do(func() {
				if err := pprof.StartCPUProfile(f); err != nil {
					fmt.Fprintln(os.Stderr, "passman-bench:", err)
				}
			})
		}
		defer pprof.StopCPUProfile()
	}
	if *e2eOnly {
		*accounts = 1
	}
	if err := run(*duration, *clients, *accounts, *binDir, *e2eOnly); err != nil {
		fmt.Fprintln(os.Stderr, "passman-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(d time.Duration, clientList string, accounts int, binDir string, e2eOnly bool) error {
	var levels []int
	for _, f := range strings.Split(clientList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("bad -clients value %q", f)
		}
		levels = append(levels, n)
	}
	env, err := start(accounts)
	if err != nil {
		return err
	}
	defer env.stop()

	if !e2eOnly {
		startProfile()
	}
	fmt.Printf("passman-bench: %d cores (GOMAXPROCS %d), %s, %d accounts, %v per run\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), accounts, d)
	fmt.Println("server and load generator share the machine; every request writes a synced audit record")
	fmt.Printf("%-22s %8s %12s %10s %10s %8s\n", "operation", "clients", "ops/s", "p50", "p99", "errors")
	ops := []struct {
		name string
		fn   func(c *client.Client, path string) error
	}{
		{"checkout", func(c *client.Client, path string) error {
			_, err := c.Checkout(&api.CheckoutRequest{Path: path, Type: model.Password})
			return err
		}},
		{"reset (database only)", func(c *client.Client, path string) error {
			_, err := c.Reset(&api.ResetRequest{Path: path, Type: model.Password,
				Generate: true, DatabaseOnly: true})
			return err
		}},
	}
	for _, op := range ops {
		for _, n := range levels {
			if e2eOnly || checkoutOnly && op.name != "checkout" {
				break
			}
			r := measure(env, n, d, op.fn)
			printResult(op.name, n, r)
		}
	}
	if binDir == "" || checkoutOnly {
		return nil
	}
	return endToEnd(env, levels, d, binDir)
}

// checkoutOnly limits the run to checkouts, for profiling them.
var checkoutOnly bool

// startProfile starts the CPU profile, once the setup is done.
var startProfile = func() {}

// agentLogLevel is the agent's --log-level.
var agentLogLevel string

// targetDir is where the end-to-end targets' files are made.
var targetDir string

func printResult(name string, n int, r result) {
	fmt.Printf("%-22s %8d %12.0f %10s %10s %8d\n", name, n, r.rate,
		r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.errors)
}

type env struct {
	srv   *server.Server
	cfg   client.Config
	cl    *client.Client
	paths []string
	stop  func()
	// cleanup removes what the measurements made beside the server.
	cleanup []func()
}

func start(accounts int) (*env, error) {
	dir, err := os.MkdirTemp("", "passman-bench-")
	if err != nil {
		return nil, err
	}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr})
	boot, err := server.Init(dir, server.InitOptions{}, log)
	if err != nil {
		return nil, err
	}
	srv, err := server.Start(server.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: log,
		NATSListen: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	e := &env{}
	e.srv, e.stop = srv, func() {
		_ = srv.Close()
		_ = os.RemoveAll(dir)
		for _, f := range e.cleanup {
			f()
		}
	}
	ca, err := os.ReadFile(server.CACertPath(dir))
	if err == nil {
		e.cfg = client.Config{Addr: srv.Addr(), Token: boot.AdminToken, CACert: ca}
		e.cl, err = client.New(e.cfg)
	}
	if err == nil {
		_, err = e.cl.OpenVault(&api.VaultOpenRequest{Key: api.NewSecret(boot.VaultKey)})
	}
	if err == nil {
		err = e.populate(accounts)
	}
	if err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

func (e *env) populate(accounts int) error {
	if _, err := e.cl.CreateFolder("bench"); err != nil {
		return err
	}
	if _, err := e.cl.CreateTarget(&api.TargetCreateRequest{Path: "bench/db", Type: "postgres",
		Address: "127.0.0.1:5432", Zone: "bench"}); err != nil {
		return err
	}
	for i := range accounts {
		p := fmt.Sprintf("bench/db/user%04d", i)
		_, err := e.cl.CreateAccount(&api.AccountCreateRequest{Path: p,
			Credentials: []api.CredentialSpec{{Type: model.Password, Generate: true}}})
		if err != nil {
			return err
		}
		e.paths = append(e.paths, p)
	}
	return nil
}

type result struct {
	rate     float64
	p50, p99 time.Duration
	errors   int
}

// measure runs fn from n clients, each with its own connection, for d and
// reports the rate and latency percentiles of the calls that succeeded.
// Each call picks a random account.
func measure(e *env, n int, d time.Duration, fn func(*client.Client, string) error) result {
	paths := make([]string, n)
	return measureEach(e, paths, d, func(cl *client.Client, _ string) error {
		return fn(cl, e.paths[rand.IntN(len(e.paths))])
	})
}

// measureEach runs one client per path for d, each calling fn with its
// path, and reports the rate and latency percentiles of the calls that
// succeeded.
func measureEach(e *env, paths []string, d time.Duration, fn func(*client.Client, string) error) result {
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, p := range paths {
		cl, err := client.New(e.cfg)
		if err != nil {
			panic(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := fn(cl, p); err != nil {
					if bad == 0 {
						fmt.Fprintln(os.Stderr, "passman-bench:", err)
					}
					bad++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(all)
	r := result{rate: float64(len(all)) / d.Seconds(), errors: errs}
	if len(all) > 0 {
		r.p50 = all[len(all)*50/100]
		r.p99 = all[len(all)*99/100]
	}
	return r
}
