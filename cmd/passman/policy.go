package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/policy"
)

// ruleFlags lists, per credential type, the rule flags that apply to it.
var ruleFlags = map[model.CredentialType][]string{
	model.Password: {"length", "min-lower", "min-upper", "min-digits", "min-symbols",
		"symbols", "exclude"},
	model.PIN:    {"length", "max-repeat", "max-run"},
	model.SSHKey: {"algorithm", "bits"},
}

func (m *cmdline) policyCommand() *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "manage the rules credentials must follow",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a policy; rules not given keep the type's defaults",
				ArgsUsage: "NAME",
				Flags:     policyFlags(),
				Action:    act(m.policyCreate),
			},
			{Name: "list", Usage: "list the policies", Action: act(m.policyList)},
			{Name: "show", Usage: "show a policy's rules", ArgsUsage: "NAME",
				Action: act(m.policyShow)},
		},
	}
}

// policyFlags returns the flags of policy create.
func policyFlags() []cli.Flag {
	return []cli.Flag{
		typeFlag("credential type the policy governs"),
		&cli.IntFlag{Name: "length", Usage: "password or pin length"},
		&cli.IntFlag{Name: "min-lower", Usage: "password: least lowercase letters"},
		&cli.IntFlag{Name: "min-upper", Usage: "password: least uppercase letters"},
		&cli.IntFlag{Name: "min-digits", Usage: "password: least digits"},
		&cli.IntFlag{Name: "min-symbols", Usage: "password: least symbols"},
		&cli.StringFlag{Name: "symbols", Usage: "password: the symbols allowed"},
		&cli.StringFlag{Name: "exclude", Usage: "password: characters never used"},
		&cli.IntFlag{Name: "max-repeat", Usage: "pin: longest repeat of one digit"},
		&cli.IntFlag{Name: "max-run", Usage: "pin: longest ascending or descending sequence"},
		&cli.StringFlag{Name: "algorithm", Usage: "ssh-key: ed25519 or rsa"},
		&cli.IntFlag{Name: "bits", Usage: "ssh-key: rsa key size"},
	}
}

func (m *cmdline) policyCreate(c *cli.Context) error {
	name, err := needArg(c, "NAME")
	if err != nil {
		return err
	}
	t, err := needType(c)
	if err != nil {
		return err
	}
	p, err := policyFromFlags(c, name, t)
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	created, err := cl.CreatePolicy(p)
	if err != nil {
		return err
	}
	return m.emit(c, created, func(w io.Writer) { writePolicy(w, created) })
}

// policyFromFlags starts from the default policy of type t and overrides
// the rules the user set. Rules are not defaulted again afterwards, so an
// explicit zero, such as --min-symbols 0, stays zero.
func policyFromFlags(c *cli.Context, name string, t model.CredentialType) (*policy.Policy, error) {
	if err := checkRuleFlags(c, t); err != nil {
		return nil, err
	}
	p := policy.Default(t)
	p.Name = name
	setInt := func(flag string, dst *int) {
		if c.IsSet(flag) {
			*dst = c.Int(flag)
		}
	}
	setString := func(flag string, dst *string) {
		if c.IsSet(flag) {
			*dst = c.String(flag)
		}
	}
	switch t {
	case model.Password:
		r := p.Password
		setInt("length", &r.Length)
		setInt("min-lower", &r.MinLower)
		setInt("min-upper", &r.MinUpper)
		setInt("min-digits", &r.MinDigits)
		setInt("min-symbols", &r.MinSymbols)
		setString("symbols", &r.Symbols)
		setString("exclude", &r.Exclude)
	case model.PIN:
		setInt("length", &p.PIN.Length)
		setInt("max-repeat", &p.PIN.MaxRepeat)
		setInt("max-run", &p.PIN.MaxRun)
	case model.SSHKey:
		setString("algorithm", &p.SSHKey.Algorithm)
		setInt("bits", &p.SSHKey.Bits)
		if !c.IsSet("bits") {
			// The default size follows the algorithm chosen.
			p.SSHKey.Bits = 0
			p.EnsureDefaults()
		}
	}
	return &p, nil
}

// checkRuleFlags refuses rule flags that do not apply to type t.
func checkRuleFlags(c *cli.Context, t model.CredentialType) error {
	allowed := map[string]bool{}
	for _, f := range ruleFlags[t] {
		allowed[f] = true
	}
	for _, flags := range ruleFlags {
		for _, f := range flags {
			if c.IsSet(f) && !allowed[f] {
				return usagef("--%s does not apply to a %s policy", f, t)
			}
		}
	}
	return nil
}

func (m *cmdline) policyList(c *cli.Context) error {
	cl, err := m.clientNoArgs(c)
	if err != nil {
		return err
	}
	list, err := cl.ListPolicies()
	if err != nil {
		return err
	}
	return m.emit(c, list, func(w io.Writer) {
		row(w, "NAME", "TYPE", "RULES")
		for _, p := range list.Policies {
			row(w, p.Name, string(p.Type), ruleSummary(&p))
		}
	})
}

func (m *cmdline) policyShow(c *cli.Context) error {
	name, err := needArg(c, "NAME")
	if err != nil {
		return err
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	p, err := cl.ShowPolicy(name)
	if err != nil {
		return err
	}
	return m.emit(c, p, func(w io.Writer) { writePolicy(w, p) })
}

// writePolicy writes the detail view of a policy.
func writePolicy(w io.Writer, p *policy.Policy) {
	field(w, "name", p.Name)
	field(w, "type", p.Type)
	for _, kv := range rules(p) {
		field(w, kv[0], kv[1])
	}
}

// ruleSummary writes a policy's rules on one line.
func ruleSummary(p *policy.Policy) string {
	var parts []string
	for _, kv := range rules(p) {
		parts = append(parts, kv[0]+"="+kv[1])
	}
	return strings.Join(parts, " ")
}

// rules lists a policy's rules as name and value pairs, in the flags'
// names.
func rules(p *policy.Policy) [][2]string {
	itoa := strconv.Itoa
	switch {
	case p.Password != nil:
		r := p.Password
		return [][2]string{{"length", itoa(r.Length)}, {"min-lower", itoa(r.MinLower)},
			{"min-upper", itoa(r.MinUpper)}, {"min-digits", itoa(r.MinDigits)},
			{"min-symbols", itoa(r.MinSymbols)}, {"symbols", strconv.Quote(r.Symbols)},
			{"exclude", strconv.Quote(r.Exclude)}}
	case p.PIN != nil:
		r := p.PIN
		return [][2]string{{"length", itoa(r.Length)}, {"max-repeat", itoa(r.MaxRepeat)},
			{"max-run", itoa(r.MaxRun)}}
	case p.SSHKey != nil:
		return [][2]string{{"algorithm", p.SSHKey.Algorithm}, {"bits", fmt.Sprint(p.SSHKey.Bits)}}
	}
	return nil
}
