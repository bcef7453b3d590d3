package cwtest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The condition language of ConnectWise's conditions and childConditions
// parameters (reference §5.1):
//
//	expr    = and { "OR" and }
//	and     = primary { "AND" primary }
//	primary = "(" expr ")" | path [ "not" ] op value
//	op      = "=" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "like" | "in"
//	value   = "string" | number | true | false | null | [datetime] | "(" value { "," value } ")"
//
// Strings are double-quoted with no escape; keywords are case-insensitive.
// Paths are checked against the resource's model, and values against the
// field's type, so that a client cannot drift from the contract unnoticed.

type condNode interface {
	eval(rec map[string]any) bool
}

type condAnd struct{ l, r condNode }
type condOr struct{ l, r condNode }

func (n condAnd) eval(rec map[string]any) bool { return n.l.eval(rec) && n.r.eval(rec) }
func (n condOr) eval(rec map[string]any) bool  { return n.l.eval(rec) || n.r.eval(rec) }

type condCmp struct {
	path []string
	op   string
	not  bool
	vals []literal
}

type literal struct {
	kind string // "string", "number", "bool", "null", "time"
	s    string
	n    float64
	b    bool
	t    time.Time
}

type condToken struct {
	kind string // "(", ")", ",", "op", "word", "string", "number", "time", "eof"
	text string
}

func lexConditions(s string) ([]condToken, error) {
	var out []condToken
	i := 0
	for i < len(s) {
		r := rune(s[i])
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(' || r == ')' || r == ',':
			out = append(out, condToken{kind: string(r), text: string(r)})
			i++
		case r == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated string at position %d", i)
			}
			out = append(out, condToken{kind: "string", text: s[i+1 : i+1+j]})
			i += j + 2
		case r == '[':
			j := strings.IndexByte(s[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unterminated date at position %d", i)
			}
			out = append(out, condToken{kind: "time", text: s[i+1 : i+1+j]})
			i += j + 2
		case strings.ContainsRune("=!<>", r):
			op := string(r)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			if op == "!" {
				return nil, fmt.Errorf("unexpected ! at position %d", i)
			}
			out = append(out, condToken{kind: "op", text: op})
			i += len(op)
		case r == '-' || unicode.IsDigit(r):
			j := i + 1
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.') {
				j++
			}
			out = append(out, condToken{kind: "number", text: s[i:j]})
			i = j
		case unicode.IsLetter(r) || r == '_':
			j := i + 1
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_' || s[j] == '/') {
				j++
			}
			out = append(out, condToken{kind: "word", text: s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at position %d", r, i)
		}
	}
	return append(out, condToken{kind: "eof"}), nil
}

type condParser struct {
	toks []condToken
	pos  int
	// check validates a comparison against the model; it returns the
	// comparison's path rewritten for evaluation.
	check func(c *condCmp) error
}

func (p *condParser) peek() condToken { return p.toks[p.pos] }
func (p *condParser) next() condToken {
	t := p.toks[p.pos]
	if t.kind != "eof" {
		p.pos++
	}
	return t
}

func isWord(t condToken, w string) bool { return t.kind == "word" && strings.EqualFold(t.text, w) }

func parseConditions(s string, check func(*condCmp) error) (condNode, error) {
	toks, err := lexConditions(s)
	if err != nil {
		return nil, err
	}
	p := &condParser{toks: toks, check: check}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	return n, nil
}

func (p *condParser) parseOr() (condNode, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = condOr{l, r}
	}
	return l, nil
}

func (p *condParser) parseAnd() (condNode, error) {
	l, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "and") {
		p.next()
		r, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		l = condAnd{l, r}
	}
	return l, nil
}

func (p *condParser) parsePrimary() (condNode, error) {
	t := p.next()
	if t.kind == "(" {
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.next().kind != ")" {
			return nil, fmt.Errorf("missing )")
		}
		return n, nil
	}
	if t.kind != "word" || isWord(t, "and") || isWord(t, "or") {
		return nil, fmt.Errorf("expected a field name, got %q", t.text)
	}
	c := &condCmp{path: strings.Split(t.text, "/")}
	if isWord(p.peek(), "not") {
		p.next()
		c.not = true
	}
	op := p.next()
	switch {
	case op.kind == "op":
		c.op = op.text
	case isWord(op, "contains"), isWord(op, "like"), isWord(op, "in"):
		c.op = strings.ToLower(op.text)
	default:
		return nil, fmt.Errorf("expected an operator after %s, got %q", t.text, op.text)
	}
	if c.op == "in" {
		if p.next().kind != "(" {
			return nil, fmt.Errorf("in needs a list in parentheses")
		}
		for {
			v, err := p.parseValue()
			if err != nil {
				return nil, err
			}
			c.vals = append(c.vals, v)
			sep := p.next()
			if sep.kind == ")" {
				break
			}
			if sep.kind != "," {
				return nil, fmt.Errorf("expected , or ) in list")
			}
		}
	} else {
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		c.vals = []literal{v}
	}
	if err := p.check(c); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *condParser) parseValue() (literal, error) {
	t := p.next()
	switch t.kind {
	case "string":
		return literal{kind: "string", s: t.text}, nil
	case "number":
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return literal{}, fmt.Errorf("bad number %q", t.text)
		}
		return literal{kind: "number", n: n}, nil
	case "time":
		tm, err := time.Parse(time.RFC3339, t.text)
		if err != nil {
			return literal{}, fmt.Errorf("bad date [%s]", t.text)
		}
		return literal{kind: "time", t: tm}, nil
	case "word":
		switch strings.ToLower(t.text) {
		case "true", "false":
			return literal{kind: "bool", b: strings.EqualFold(t.text, "true")}, nil
		case "null":
			return literal{kind: "null"}, nil
		}
		return literal{}, fmt.Errorf("%s is not a value: strings are written in double quotes", t.text)
	}
	return literal{}, fmt.Errorf("expected a value, got %q", t.text)
}

func (c *condCmp) eval(rec map[string]any) bool {
	var v any = rec
	for _, seg := range c.path {
		m, ok := v.(map[string]any)
		if !ok {
			v = nil
			break
		}
		v = m[seg]
	}
	res := false
	for _, lit := range c.vals {
		if compare(v, c.op, lit) {
			res = true
			break
		}
	}
	if c.not {
		return !res
	}
	return res
}

// compare applies op to a record value and a literal. Strings compare
// case-insensitively, as under SQL Server's default collation.
// Unconfirmed: ConnectWise's exact collation.
func compare(v any, op string, lit literal) bool {
	if lit.kind == "null" {
		switch op {
		case "=":
			return v == nil
		case "!=":
			return v != nil
		}
		return false
	}
	if v == nil {
		return op == "!="
	}
	cmp := 0
	switch lit.kind {
	case "string":
		s, ok := v.(string)
		if !ok {
			return false
		}
		ls, lv := strings.ToLower(s), strings.ToLower(lit.s)
		switch op {
		case "contains":
			return strings.Contains(ls, lv)
		case "like":
			return likePattern(lv).MatchString(ls)
		}
		cmp = strings.Compare(ls, lv)
	case "number":
		n, ok := v.(float64)
		if !ok {
			return false
		}
		cmp = cmpFloat(n, lit.n)
	case "bool":
		b, ok := v.(bool)
		if !ok {
			return false
		}
		if op != "=" && op != "!=" {
			return false
		}
		cmp = 1
		if b == lit.b {
			cmp = 0
		}
	case "time":
		s, ok := v.(string)
		if !ok {
			return false
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return false
		}
		cmp = t.Compare(lit.t)
	}
	switch op {
	case "=", "in":
		return cmp == 0
	case "!=":
		return cmp != 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// likePattern turns a SQL LIKE pattern (% any run, _ any one character)
// into an anchored regexp.
func likePattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range p {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// childCond is a parsed childConditions expression: one array field of the
// record, and an expression over its items.
type childCond struct {
	array string
	expr  condNode
}

// eval reports whether some item of the array satisfies the expression.
// Whether ConnectWise matches each comparison against any item or the
// whole expression against one item is unconfirmed; matching one item is
// the stricter reading, so a client that depends on the looser one fails
// here.
func (c childCond) eval(rec map[string]any) bool {
	items, _ := rec[c.array].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && c.expr.eval(m) {
			return true
		}
	}
	return false
}

// compileConditions parses conditions (child false) or childConditions
// (child true) for records of model.
func compileConditions(c *Contract, model, s string, child bool) (func(map[string]any) bool, error) {
	array := ""
	check := func(cmp *condCmp) error {
		path := strings.Join(cmp.path, "/")
		typ, arrayAt, err := c.Resolve(model, path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if child {
			if cmp.op == "in" {
				return fmt.Errorf("childConditions do not support in (%s)", path)
			}
			if arrayAt != 0 || len(cmp.path) < 2 {
				return fmt.Errorf("%s is not a field of an array of %s: use conditions", path, model)
			}
			if array != "" && array != cmp.path[0] {
				return fmt.Errorf("cwtest supports one array per childConditions, got %s and %s", array, cmp.path[0])
			}
			array = cmp.path[0]
			cmp.path = cmp.path[1:]
		} else if arrayAt >= 0 {
			return fmt.Errorf("%s is inside an array: use childConditions", path)
		}
		kind := scalarKind(typ)
		if kind == "" {
			return fmt.Errorf("%s is not a plain value: name one of its fields (e.g. %s/id)", path, path)
		}
		for _, v := range cmp.vals {
			if v.kind != "null" && v.kind != kind && !(kind == "time" && v.kind == "time") {
				return fmt.Errorf("%s is a %s, compared with a %s", path, kind, v.kind)
			}
		}
		if (cmp.op == "contains" || cmp.op == "like") && kind != "string" {
			return fmt.Errorf("%s on %s, which is not a string", cmp.op, path)
		}
		return nil
	}
	n, err := parseConditions(s, check)
	if err != nil {
		return nil, err
	}
	if child {
		cc := childCond{array: array, expr: n}
		return cc.eval, nil
	}
	return n.eval, nil
}
