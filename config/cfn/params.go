package cfn

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseOverrides reads parameter values in the syntax of sam deploy's
// --parameter-overrides: space-separated Key=Value pairs, or
// ParameterKey=Key,ParameterValue=Value entries (the AWS CLI's), in any
// mix. A value may be quoted with " or ' to hold spaces ("Name=my app");
// a backslash escapes the next character inside double quotes.
func ParseOverrides(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, tok := range splitOverrides(s) {
		if tok.err != nil {
			return nil, tok.err
		}
		k, v, err := overrideEntry(tok.text)
		if err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("parameter overrides: %s is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

type overrideToken struct {
	text string
	err  error
}

// splitOverrides splits on unquoted whitespace and removes the quotes.
func splitOverrides(s string) []overrideToken {
	var toks []overrideToken
	var b strings.Builder
	in := false
	var quote rune
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' && i < len(s) {
				r2, size2 := utf8.DecodeRuneInString(s[i:])
				i += size2
				b.WriteRune(r2)
			} else {
				b.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if in {
				toks = append(toks, overrideToken{text: b.String()})
				b.Reset()
				in = false
			}
		default:
			b.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return []overrideToken{{err: fmt.Errorf("parameter overrides: unterminated %c quote", quote)}}
	}
	if in {
		toks = append(toks, overrideToken{text: b.String()})
	}
	return toks
}

func overrideEntry(tok string) (string, string, error) {
	if strings.HasPrefix(tok, "ParameterKey=") {
		rest := strings.TrimPrefix(tok, "ParameterKey=")
		k, v, ok := strings.Cut(rest, ",ParameterValue=")
		if !ok {
			if k, _, ok := strings.Cut(rest, ",UsePreviousValue="); ok {
				return "", "", fmt.Errorf("parameter overrides: %s: UsePreviousValue has no meaning locally: give ParameterValue", k)
			}
			return "", "", fmt.Errorf("parameter overrides: %q: want ParameterKey=Name,ParameterValue=value", tok)
		}
		if !logicalID(k) {
			return "", "", fmt.Errorf("parameter overrides: %q is not a parameter name", k)
		}
		return k, v, nil
	}
	k, v, ok := strings.Cut(tok, "=")
	if !ok {
		return "", "", fmt.Errorf("parameter overrides: %q: want Name=value", tok)
	}
	if !logicalID(k) {
		return "", "", fmt.Errorf("parameter overrides: %q is not a parameter name", k)
	}
	return k, v, nil
}

// ssmType reports parameter types whose value lives in SSM Parameter
// Store: the template's value is the SSM parameter's name.
func ssmType(t string) bool { return strings.HasPrefix(t, "AWS::SSM::Parameter::Value<") }

// loadParams checks the overrides and every parameter's value against its
// Type and constraints. A parameter without a value is an error; an SSM
// parameter without an override is an error only where it is used.
func (e *evaluator) loadParams(errs *errs) {
	names := make([]string, 0, len(e.o.Parameters))
	for k := range e.o.Parameters {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if e.t.params[k] == nil {
			known := strings.Join(e.t.paramOrder, ", ")
			if known == "" {
				known = "none"
			}
			errs.add("", 0, "parameter override %s: the template has no parameter %s (its parameters: %s)", k, k, known)
		}
	}
	for _, name := range e.t.paramOrder {
		p := e.t.params[name]
		path := "Parameters." + name
		typ := "String"
		if t := p.Get("Type"); t != nil && t.Kind == String {
			typ = t.Value
		} else {
			errs.add(path+".Type", p.Line, "required: String, Number, CommaDelimitedList, List<Number>, ...")
			continue
		}
		value, given := e.o.Parameters[name]
		ssm := ssmType(typ)
		if ssm {
			typ = strings.TrimSuffix(strings.TrimPrefix(typ, "AWS::SSM::Parameter::Value<"), ">")
		}
		if !given {
			d := p.Get("Default")
			switch {
			case d == nil:
				errs.add(path, p.Line, "no Default and no value: pass one with --parameter-overrides %s=VALUE", name)
				continue
			case d.scalar():
				value = d.Value
			case d.Kind == List && (typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<")):
				parts := make([]string, 0, len(d.Items))
				for _, it := range d.Items {
					parts = append(parts, it.Value)
				}
				value = strings.Join(parts, ",")
			default:
				errs.add(path+".Default", d.Line, "want a string, got %s", d.Kind)
				continue
			}
			if ssm {
				e.paramErr[name] = fmt.Sprintf("parameter %s is read from SSM Parameter Store (%s), which is not available locally: pass its value with --parameter-overrides %s=VALUE", name, value, name)
				continue
			}
		}
		v, err := paramValue(typ, value, p, path)
		if err != nil {
			errs.addErr(err)
			continue
		}
		e.params[name] = v
	}
}

func paramValue(typ, value string, p *Node, path string) (*Node, error) {
	list := typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<")
	number := typ == "Number" || typ == "List<Number>"
	var items []string
	if list {
		if value != "" {
			for _, s := range strings.Split(value, ",") {
				items = append(items, strings.TrimSpace(s))
			}
		}
	} else {
		items = []string{value}
	}
	for _, v := range items {
		if number {
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return nil, fail(path, p, "%q is not a number (Type %s)", v, typ)
			}
		}
		if err := constraints(v, p, path); err != nil {
			return nil, err
		}
	}
	if !list {
		return str(value, p.Line), nil
	}
	n := &Node{Kind: List, Line: p.Line}
	for _, v := range items {
		n.Items = append(n.Items, str(v, p.Line))
	}
	return n, nil
}

// constraints checks AllowedValues, AllowedPattern, Min/MaxLength and
// Min/MaxValue.
func constraints(v string, p *Node, path string) error {
	explain := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if c := p.Get("ConstraintDescription"); c.scalar() {
			msg += " (" + c.Value + ")"
		}
		return fail(path, p, "%s", msg)
	}
	if av := p.Get("AllowedValues"); av != nil && av.Kind == List {
		ok := false
		var allowed []string
		for _, it := range av.Items {
			ok = ok || it.Value == v
			allowed = append(allowed, it.Value)
		}
		if !ok {
			return explain("%q is not one of the AllowedValues [%s]", v, strings.Join(allowed, ", "))
		}
	}
	if ap := p.Get("AllowedPattern"); ap.scalar() {
		re, err := regexp.Compile("^(?:" + ap.Value + ")$")
		if err != nil {
			return fail(path+".AllowedPattern", ap, "not a pattern Go can read: %v", err)
		}
		if !re.MatchString(v) {
			return explain("%q does not match the AllowedPattern %s", v, ap.Value)
		}
	}
	num := func(key string) (float64, bool) {
		n := p.Get(key)
		if !n.scalar() {
			return 0, false
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		return f, err == nil
	}
	if m, ok := num("MinLength"); ok && float64(utf8.RuneCountInString(v)) < m {
		return explain("%q is shorter than MinLength %v", v, m)
	}
	if m, ok := num("MaxLength"); ok && float64(utf8.RuneCountInString(v)) > m {
		return explain("%q is longer than MaxLength %v", v, m)
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if m, ok := num("MinValue"); ok && f < m {
			return explain("%v is less than MinValue %v", v, m)
		}
		if m, ok := num("MaxValue"); ok && f > m {
			return explain("%v is more than MaxValue %v", v, m)
		}
	}
	return nil
}

// partition is the AWS partition of a region.
func partition(region string) (string, string) {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn", "amazonaws.com.cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov", "amazonaws.com"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso", "c2s.ic.gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b", "sc2s.sgov.gov"
	}
	return "aws", "amazonaws.com"
}

// ref evaluates Ref name: a pseudo parameter, a parameter, or a resource's
// physical id.
func (e *evaluator) ref(name string, at *Node, path string) (*Node, error) {
	line := 0
	if at != nil {
		line = at.Line
	}
	part, suffix := partition(e.o.Region)
	switch name {
	case "AWS::NoValue":
		return noValue, nil
	case "AWS::Region":
		return str(e.o.Region, line), nil
	case "AWS::AccountId":
		return str(e.o.AccountID, line), nil
	case "AWS::StackName":
		return str(e.o.StackName, line), nil
	case "AWS::StackId":
		return str(fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/%s", part, e.o.Region, e.o.AccountID, e.o.StackName, stableUUID("stack", e.o.StackName)), line), nil
	case "AWS::Partition":
		return str(part, line), nil
	case "AWS::URLSuffix":
		return str(suffix, line), nil
	case "AWS::NotificationARNs":
		return &Node{Kind: List, Line: line}, nil
	}
	if _, ok := e.t.params[name]; ok {
		if msg, bad := e.paramErr[name]; bad {
			return nil, fail(path, at, "%s", msg)
		}
		v := e.params[name]
		if v == nil {
			return nil, fail(path, at, "parameter %s has no valid value", name)
		}
		return v, nil
	}
	if r := e.t.resources[name]; r != nil {
		p, err := e.physical(r, at, path)
		if err != nil {
			return nil, err
		}
		return str(p.ref, line), nil
	}
	return nil, fail(path, at, "Ref %s: no resource or parameter of that name", name)
}
