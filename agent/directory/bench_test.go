package directory

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The harvester's benchmarks, issue 17's closing note: against the same
// Samba AD DC the directory tests use (scripts/samba-ad.sh), in the same
// run,
//
//   - BenchmarkFullSync10k: a full sync of 10,000 users, dial and bind
//     included, beside an ldapsearch paged dump of the same attributes of
//     the same OU at the same page size (process start, TLS and bind
//     included): target ≤ 1.5×;
//   - BenchmarkIncrementalSync10: an incremental sync after 10 users
//     changed, beside a full sync on the same connection: target < 5 %.
//
// (Matching 100,000 × 100,000 is core's BenchmarkMatchDirectory100k.)
//
// Both fill an OU of their own with the users the first time (disabled
// accounts without a password, so that Samba does not hash 10,000
// passwords; the attributes a sync reads are all there; Samba takes about
// 3.5 minutes for 10,000) and leave it for the next run: the DC is a
// throwaway one. Run them with
//
//	go test ./agent/directory -run '^$' -bench 'Sync' -benchtime 3x
//
// and they fail when a ratio misses its target. The issue's figures need
// 10,000 users; COUNTERSIGN_BENCH_AD_USERS sets fewer for the short pass
// of scripts/test.sh, which only keeps them compiling and running (with a
// few hundred users the targets are not held: a process start and the
// rootDSE reads weigh more than the users).

// issueUsers is the issue's directory size, the one the targets hold at.
const issueUsers = 10_000

// benchUsers is how many users the benchmarks harvest.
var benchUsers = sync.OnceValue(func() int {
	if n, err := strconv.Atoi(os.Getenv("COUNTERSIGN_BENCH_AD_USERS")); err == nil && n > 0 && n <= 99_999 {
		return n
	}
	return issueUsers
})

var benchOnce sync.Once

// benchSAM is the i-th benchmark user's sAMAccountName, unique in the
// domain across directory sizes.
func benchSAM(i int) string {
	if benchUsers() == issueUsers {
		return fmt.Sprintf("bench%05d", i)
	}
	return fmt.Sprintf("bench%dx%05d", benchUsers(), i)
}

// benchOUDN returns the DN of the benchmarks' OU, filled with benchUsers()
// users, and the admin fixture's connection to the DC.
func benchOUDN(b *testing.B) (string, *ldap.Conn, Config) {
	b.Helper()
	cfg := testConfig(b)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cfg.CAPEM)
	l, err := ldap.DialURL(cfg.URL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: cfg.ServerName}))
	if err != nil {
		b.Fatalf("dial %s: %v", cfg.URL, err)
	}
	b.Cleanup(func() { l.Close() })
	if err := l.Bind(cfg.BindUser, cfg.BindPassword); err != nil {
		b.Fatalf("bind: %v", err)
	}
	res, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext"}, nil))
	if err != nil {
		b.Fatal(err)
	}
	base := res.Entries[0].GetAttributeValue("defaultNamingContext")
	domain := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(base, "DC=", ""), ",", "."))
	name := fmt.Sprintf("CountersignBench%d", benchUsers())
	if benchUsers() == issueUsers {
		name = "CountersignBench10k"
	}
	ou := "OU=" + name + "," + base
	var fillErr error
	benchOnce.Do(func() { fillErr = fillBenchOU(l, ou, domain) })
	if fillErr != nil {
		b.Fatal(fillErr)
	}
	cfg.OUs = []string{ou}
	return ou, l, cfg
}

// fillBenchOU creates ou and the benchmark users it lacks.
func fillBenchOU(l *ldap.Conn, ou, domain string) error {
	req := ldap.NewAddRequest(ou, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	if err := l.Add(req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		return fmt.Errorf("add %s: %w", ou, err)
	}
	have := map[string]bool{}
	res, err := l.SearchWithPaging(ldap.NewSearchRequest(ou, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		UserFilter, []string{"sAMAccountName"}, nil), 1000)
	if err != nil {
		return fmt.Errorf("count benchmark users: %w", err)
	}
	for _, e := range res.Entries {
		have[e.GetAttributeValue("sAMAccountName")] = true
	}
	start, added := time.Now(), 0
	for i := range benchUsers() {
		sam := benchSAM(i)
		if have[sam] {
			continue
		}
		req := ldap.NewAddRequest("CN="+sam+","+ou, nil)
		req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
		req.Attribute("sAMAccountName", []string{sam})
		req.Attribute("userPrincipalName", []string{sam + "@" + domain})
		req.Attribute("givenName", []string{fmt.Sprintf("Given%05d", i)})
		req.Attribute("sn", []string{"Bench"})
		req.Attribute("displayName", []string{fmt.Sprintf("Given%05d Bench", i)})
		req.Attribute("mail", []string{sam + "@" + domain})
		req.Attribute("proxyAddresses", []string{"SMTP:" + sam + "@" + domain, "smtp:alias-" + sam + "@" + domain})
		req.Attribute("mobile", []string{fmt.Sprintf("+1 555 01%05d", i)})
		req.Attribute("telephoneNumber", []string{fmt.Sprintf("+1 555 02%05d", i)})
		req.Attribute("userAccountControl", []string{"514"}) // disabled: no password to hash
		if err := l.Add(req); err != nil {
			return fmt.Errorf("add %s: %w", sam, err)
		}
		added++
	}
	if added > 0 {
		fmt.Fprintf(os.Stderr, "directory bench: added %d users to %s in %s\n", added, ou, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// ldapsearchDump runs ldapsearch's paged dump of the sync's attributes of
// ou at the sync's page size, discarding the output, and returns how long
// it took and how many entries it printed.
func ldapsearchDump(b *testing.B, cfg Config, ou string) (time.Duration, int) {
	b.Helper()
	args := append([]string{"-LLL", "-o", "ldif-wrap=no", "-H", cfg.URL, "-x", "-D", cfg.BindUser, "-w", cfg.BindPassword,
		"-b", ou, "-E", fmt.Sprintf("pr=%d/noprompt", cfg.pageSize()), UserFilter}, UserAttributes()...)
	cmd := exec.Command("ldapsearch", args...)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+os.Getenv("COUNTERSIGN_TEST_AD_CA"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("ldapsearch: %v\n%s", err, out.Bytes()[:min(out.Len(), 2000)])
	}
	return took, bytes.Count(out.Bytes(), []byte("\ndn: ")) + boolInt(bytes.HasPrefix(out.Bytes(), []byte("dn: ")))
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkFullSync10k times, interleaved, a full sync of benchUsers() users
// (dial, bind, rootDSE, policy and the paged search, each entry parsed
// into a User) and ldapsearch's dump of the same; it reports the medians
// and their ratio.
func BenchmarkFullSync10k(b *testing.B) {
	ou, _, cfg := benchOUDN(b)
	var syncs, dumps []time.Duration
	for b.Loop() {
		start := time.Now()
		c, err := Dial(cfg)
		if err != nil {
			b.Fatal(err)
		}
		res, err := c.Sync(State{}, time.Now())
		c.Close()
		if err != nil {
			b.Fatal(err)
		}
		syncs = append(syncs, time.Since(start))
		if !res.Full || len(res.Users) != benchUsers() {
			b.Fatalf("full sync: full=%v, %d users, want %d", res.Full, len(res.Users), benchUsers())
		}
		took, n := ldapsearchDump(b, cfg, ou)
		dumps = append(dumps, took)
		if n != benchUsers() {
			b.Fatalf("ldapsearch printed %d entries, want %d", n, benchUsers())
		}
	}
	s, d := median(syncs), median(dumps)
	ratio := float64(s) / float64(d)
	b.ReportMetric(s.Seconds(), "s/full-sync")
	b.ReportMetric(d.Seconds(), "s/ldapsearch")
	b.ReportMetric(ratio, "x-ldapsearch")
	b.Logf("full sync of %d users: median %s; ldapsearch: median %s; ratio %.2f (target ≤ 1.5)", benchUsers(), s, d, ratio)
	if ratio > 1.5 && benchUsers() == issueUsers {
		b.Errorf("a full sync takes %.2f× ldapsearch's dump; the target is ≤ 1.5×", ratio)
	}
}

// BenchmarkIncrementalSync10 changes 10 users' phone numbers (to ones no
// earlier run wrote), then times,
// on one connection, the incremental sync that picks them up and a full
// sync; it reports the medians and their ratio.
func BenchmarkIncrementalSync10(b *testing.B) {
	ou, admin, cfg := benchOUDN(b)
	c, err := Dial(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	first, err := c.Sync(State{}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	state := first.State
	// The OU stays for the next run, and a modify that writes the value an
	// attribute has already changes nothing (no new uSNChanged): each run
	// writes numbers of its own.
	run := time.Now().UnixNano() % 1_000_000_000
	var incs, fulls []time.Duration
	round := 0
	for b.Loop() {
		round++
		for i := range 10 {
			sam := benchSAM((round*10 + i) * 37 % benchUsers())
			req := ldap.NewModifyRequest("CN="+sam+","+ou, nil)
			req.Replace("telephoneNumber", []string{fmt.Sprintf("+1 555 03%05d ext %d", round*10+i, run)})
			if err := admin.Modify(req); err != nil {
				b.Fatalf("modify %s: %v", sam, err)
			}
		}
		start := time.Now()
		inc, err := c.Sync(state, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		incs = append(incs, time.Since(start))
		if inc.Full || len(inc.Users) != 10 {
			b.Fatalf("incremental sync: full=%v (%s), %d users, want 10", inc.Full, inc.Reason, len(inc.Users))
		}
		state = inc.State
		start = time.Now()
		full, err := c.Sync(State{}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		fulls = append(fulls, time.Since(start))
		if len(full.Users) != benchUsers() {
			b.Fatalf("full sync: %d users, want %d", len(full.Users), benchUsers())
		}
	}
	i, f := median(incs), median(fulls)
	ratio := float64(i) / float64(f)
	b.ReportMetric(i.Seconds()*1000, "ms/incremental-10")
	b.ReportMetric(f.Seconds()*1000, "ms/full")
	b.ReportMetric(ratio*100, "%-of-full")
	b.Logf("incremental sync of 10 changes: median %s; full sync: median %s; %.2f %% (target < 5 %%)", i, f, ratio*100)
	if ratio >= 0.05 && benchUsers() == issueUsers {
		b.Errorf("an incremental sync of 10 changes takes %.1f %% of a full sync; the target is < 5 %%", ratio*100)
	}
}
