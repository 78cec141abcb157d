package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/internal/testtarget/postgres"
	"github.com/passman-dev/passman/internal/testtarget/redis"
	pgdriver "github.com/passman-dev/passman/plugins/postgres"
	redisdriver "github.com/passman-dev/passman/plugins/redis"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/server/model"
)

// benchInFlight are the numbers of resets kept in flight.
var benchInFlight = []int{1, 16, 64}

// benchFor is how long each measurement runs.
const benchFor = 3 * time.Second

// benchTarget is a real target the benchmark resets accounts on.
type benchTarget struct {
	name   string
	driver sdk.Driver
	// start starts the target, creates n accounts that may change their
	// own password, and returns the target's address and the accounts'
	// names and passwords.
	start func(tb testing.TB, n int) (addr string, names, passwords []string)
}

var benchTargets = []benchTarget{
	{name: "redis", driver: redisdriver.New(redisdriver.WithLogger(hclog.NewNullLogger())),
		start: func(tb testing.TB, n int) (string, []string, []string) {
			s := redis.Start(tb)
			names, pws := benchAccounts(n)
			for i := range names {
				s.CreateUser(tb, names[i], pws[i], "+@all", "~*")
			}
			return s.Addr, names, pws
		}},
	{name: "postgres", driver: pgdriver.New(pgdriver.WithLogger(hclog.NewNullLogger())),
		start: func(tb testing.TB, n int) (string, []string, []string) {
			// Each reset in flight holds up to two connections: room for 64.
			s := postgres.StartWith(tb, postgres.Options{Config: []string{"max_connections=300"}})
			names, pws := benchAccounts(n)
			for i := range names {
				s.CreateRole(tb, names[i], pws[i])
			}
			return s.Addr, names, pws
		}},
}

func benchAccounts(n int) (names, passwords []string) {
	for i := range n {
		names = append(names, fmt.Sprintf("bench%02d", i))
		passwords = append(passwords, fmt.Sprintf("Bench-Passw0rd!%02dabcdefgh", i))
	}
	return names, passwords
}

// BenchmarkResetOnTarget measures Reset Credentials changed on real Redis
// and PostgreSQL targets through the server, NATS, an agent process and
// the driver plugin, with 1, 16 and 64 resets in flight, each on its own
// account. It also times the driver alone doing the same change and the
// login after it, in this process, on an account of its own, just before
// and just after each run, so that both see the machine much as it is
// then: PassMan's overhead per reset is the difference of the two p50s.
// Run it with make bench; it runs once whatever -benchtime says.
func BenchmarkResetOnTarget(b *testing.B) {
	requireRoot(b)
	for _, bt := range benchTargets {
		b.Run(bt.name, func(b *testing.B) {
			// One account more than resets in flight: the driver's own.
			addr, names, pws := bt.start(b, slices.Max(benchInFlight)+1)
			last := len(names) - 1
			own := &ownRotations{bt: bt, addr: addr, account: names[last], current: pws[last]}
			// Server and agent log at info, as deployed.
			e := newEnv(b, testserver.Config{LogLevel: hclog.Info})
			paths := e.benchAccounts(bt.name, addr, names[:last], pws[:last])
			e.startAgentArgs(e.enroll("bench"), "--log-level", "info")
			for _, n := range benchInFlight {
				b.Run(fmt.Sprintf("in-flight-%d", n), func(b *testing.B) {
					before := own.times(b, 50)
					r := e.measureResets(paths[:n])
					driver := p50(append(before, own.times(b, 50)...))
					b.ReportMetric(r.rate, "resets/s")
					b.ReportMetric(ms(r.p50), "p50-ms")
					b.ReportMetric(ms(r.p99), "p99-ms")
					b.ReportMetric(ms(driver), "driver-p50-ms")
					b.ReportMetric(ms(r.p50-driver), "overhead-p50-ms")
				})
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ownRotations changes an account's password with the driver alone, in
// this process, and logs in with the new one, as the agent asks its
// plugin to: what the target's own operation costs. The account is not
// PassMan's.
type ownRotations struct {
	bt            benchTarget
	addr, account string
	current       string
	rotations     int
}

// one rotates the account once and returns how long it took.
func (o *ownRotations) one(tb testing.TB) time.Duration {
	tb.Helper()
	o.rotations++
	next := fmt.Sprintf("Direct-Passw0rd!%06dabcdef", o.rotations)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	res, err := sdk.Rotate(ctx, o.bt.driver, &sdk.ChangeRequest{
		JobID:  fmt.Sprint("direct-", o.rotations),
		Target: sdk.Target{Address: o.addr}, Account: o.account, Type: sdk.Password,
		Current: sdk.NewSecret([]byte(o.current)), New: sdk.NewSecret([]byte(next))})
	took := time.Since(start)
	if err == nil && res.CheckErr != nil {
		err = res.CheckErr
	}
	if err != nil {
		tb.Fatalf("driver change: %v", err)
	}
	o.current = next
	return took
}

// times rotates the account n times and returns how long each took.
func (o *ownRotations) times(tb testing.TB, n int) []time.Duration {
	tb.Helper()
	var lat []time.Duration
	for range n {
		lat = append(lat, o.one(tb))
	}
	return lat
}

// p50 returns the median of lat, which it sorts.
func p50(lat []time.Duration) time.Duration {
	slices.Sort(lat)
	return lat[len(lat)/2]
}

// benchAccounts creates the target and one PassMan account per target
// account, and returns the accounts' paths.
func (e *env) benchAccounts(driver, addr string, names, pws []string) []string {
	e.t.Helper()
	tp := "bench-" + driver
	_, err := e.c.CreateTarget(&api.TargetCreateRequest{Path: tp, Type: driver, Address: addr,
		Zone: "bench"})
	if err != nil {
		e.t.Fatal(err)
	}
	var paths []string
	for i, n := range names {
		_, err := e.c.CreateAccount(&api.AccountCreateRequest{Path: tp + "/" + n,
			Credentials: []api.CredentialSpec{{Type: model.Password, Value: sec(pws[i])}}})
		if err != nil {
			e.t.Fatal(err)
		}
		paths = append(paths, tp+"/"+n)
	}
	return paths
}

// benchResult is what one measurement found.
type benchResult struct {
	rate     float64
	p50, p99 time.Duration
}

// measureResets keeps one reset in flight per path for benchFor and
// reports the rate and the latency from request to the job's end.
func (e *env) measureResets(paths []string) benchResult {
	var mu sync.Mutex
	var all []time.Duration
	deadline := time.Now().Add(benchFor)
	var wg sync.WaitGroup
	for _, p := range paths {
		cl := e.srv.Client(e.t, e.srv.Bootstrap.AdminToken.Reveal())
		wg.Go(func() {
			var lat []time.Duration
			for time.Now().Before(deadline) {
				d, ok := resetOnce(e.t, cl, p)
				if !ok {
					break
				}
				lat = append(lat, d)
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return e.result(all)
}

// result sums up the latencies of the resets of one measurement.
func (e *env) result(lat []time.Duration) benchResult {
	if len(lat) == 0 {
		e.t.Fatal("no reset finished")
	}
	slices.Sort(lat)
	return benchResult{rate: float64(len(lat)) / benchFor.Seconds(),
		p50: lat[len(lat)/2], p99: lat[len(lat)*99/100]}
}

// resetOnce resets path, waiting for the job, and returns how long it
// took; it fails tb and reports false when the reset did not succeed.
func resetOnce(tb testing.TB, cl *client.Client, path string) (time.Duration, bool) {
	start := time.Now()
	r, err := cl.Reset(&api.ResetRequest{Path: path, Type: model.Password, Generate: true,
		WaitSeconds: 30})
	if err != nil {
		tb.Errorf("reset %s: %v", path, err)
		return 0, false
	}
	if j := r.Job; j.State != model.JobSucceeded {
		tb.Errorf("job %s: %s %s", j.ID, j.State, j.Outcome)
		return 0, false
	}
	return time.Since(start), true
}
