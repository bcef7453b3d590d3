package auth

import (
	"bufio"
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/countersign/countersign/core"
)

// HashGate bounds how many argon2id computations run at once. Each one
// holds [DefaultParams].Memory (64 MiB) for its whole run, and sign-in is
// reachable without authentication: unbounded, 50 parallel wrong passwords
// took a server from 29 MiB to 3.2 GiB. Every password check, dummy check
// and hash of a request goes through one gate, so the memory they can hold is
// Slots × 64 MiB whatever the load.
//
// A request waits for a slot as long as its context and MaxWait allow; when
// too many are already waiting it is refused at once with a
// core.KindUnavailable error carrying a Retry-After ([core.RetryAfter]).
type HashGate struct {
	slots      chan struct{}
	maxWaiters int64
	maxWait    time.Duration
	waiting    atomic.Int64
	inUse      atomic.Int64
	high       atomic.Int64
	runs       atomic.Int64
}

// Gate defaults: a request waits at most gateMaxWait for a slot, and at most
// gateWaitersPerSlot requests per slot wait at all.
const (
	gateMaxWait        = 5 * time.Second
	gateWaitersPerSlot = 8
	gateRetryAfter     = 2 * time.Second
)

// NewHashGate returns a gate with the given number of slots (at least 1).
// It also makes the dummy hash ([CheckDummy]) now if no gate has, so that
// the first sign-in with an unknown email does not pay for making it: that
// first answer took three times as long as a known account's.
func NewHashGate(slots int) *HashGate {
	slots = max(slots, 1)
	dummyHash()
	return &HashGate{slots: make(chan struct{}, slots), maxWaiters: int64(slots * gateWaitersPerSlot), maxWait: gateMaxWait}
}

// Runs returns how many functions ran through g.
func (g *HashGate) Runs() int { return int(g.runs.Load()) }

// Slots returns how many hashes may run at once.
func (g *HashGate) Slots() int { return cap(g.slots) }

// InUse returns how many hashes run now.
func (g *HashGate) InUse() int { return int(g.inUse.Load()) }

// Waiting returns how many requests wait for a slot now.
func (g *HashGate) Waiting() int { return int(g.waiting.Load()) }

// HighWater returns the most hashes that ever ran at once through g.
func (g *HashGate) HighWater() int { return int(g.high.Load()) }

// errBusy is the answer when the gate is full.
var errBusy = core.Errorf(core.KindUnavailable, "sign-in is busy; try again in a few seconds")

// Do runs fn once a slot is free. It returns without running fn when ctx
// ends, MaxWait passes, or too many requests are waiting already.
func (g *HashGate) Do(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		if g.waiting.Add(1) > g.maxWaiters {
			g.waiting.Add(-1)
			return core.WithRetryAfter(errBusy, gateRetryAfter)
		}
		t := time.NewTimer(g.maxWait)
		select {
		case g.slots <- struct{}{}:
			g.waiting.Add(-1)
			t.Stop()
		case <-t.C:
			g.waiting.Add(-1)
			return core.WithRetryAfter(errBusy, gateRetryAfter)
		case <-ctx.Done():
			g.waiting.Add(-1)
			t.Stop()
			return core.WithRetryAfter(errBusy, gateRetryAfter)
		}
	}
	g.runs.Add(1)
	n := g.inUse.Add(1)
	for {
		h := g.high.Load()
		if n <= h || g.high.CompareAndSwap(h, n) {
			break
		}
	}
	defer func() {
		g.inUse.Add(-1)
		<-g.slots
	}()
	fn()
	return nil
}

// CheckPassword is [CheckPassword] through the gate.
func (g *HashGate) CheckPassword(ctx context.Context, hash, pw string) (ok bool, err error) {
	if gerr := g.Do(ctx, func() { ok, err = CheckPassword(hash, pw) }); gerr != nil {
		return false, gerr
	}
	return ok, err
}

// CheckDummy is [CheckDummy] through the gate.
func (g *HashGate) CheckDummy(ctx context.Context, pw string) error {
	return g.Do(ctx, func() { CheckDummy(pw) })
}

// HashPassword is [HashPassword] through the gate.
func (g *HashGate) HashPassword(ctx context.Context, pw string) (h string, err error) {
	if err := ValidatePassword(pw); err != nil {
		return "", err
	}
	if gerr := g.Do(ctx, func() { h, err = HashPassword(pw) }); gerr != nil {
		return "", gerr
	}
	return h, err
}

// DefaultHashSlots sizes a gate from the memory this process may use: a
// quarter of it (GOMEMLIMIT, else the cgroup's memory.max, else the
// machine's MemTotal) divided by the memory of one [DefaultParams] hash, and
// no more than the CPUs, since argon2 is CPU-bound too and more hashes at
// once only make each slower. At least 1.
func DefaultHashSlots() int {
	return slotsFor(memoryBudget(), DefaultParams, runtime.NumCPU())
}

func slotsFor(budget uint64, p Params, cpus int) int {
	per := uint64(p.Memory) * 1024
	n := int(min(budget/4/per, uint64(math.MaxInt32)))
	return max(1, min(n, cpus))
}

// memoryBudget returns the memory the process may use, in bytes; 1 GiB when
// nothing says.
func memoryBudget() uint64 {
	budget := uint64(1 << 30)
	known := false
	take := func(n uint64) {
		if n > 0 && (!known || n < budget) {
			budget, known = n, true
		}
	}
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < math.MaxInt64 {
		take(uint64(lim))
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			take(n)
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
					take(n * 1024)
				}
			}
		}
		f.Close()
	}
	return budget
}
