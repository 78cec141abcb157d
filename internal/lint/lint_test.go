// Package lint holds the project's own lint rules, run as an ordinary test
// by make lint and make test.
package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// maxLine is the hard limit on a line's width, tabs counted as 4. Aim for
// 100; this catches what nobody should have to scroll to read.
const maxLine = 120

// goFiles returns every non-generated .go file of the module by directory.
func goFiles(t *testing.T) map[string][]string {
	t.Helper()
	root := filepath.Join("..", "..")
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin") && p != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, ".pb.go") {
			out[filepath.Dir(p)] = append(out[filepath.Dir(p)], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPackagesHaveDocComments(t *testing.T) {
	for dir, files := range goFiles(t) {
		documented := false
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") && !strings.HasSuffix(dir, "lint") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			documented = documented || af.Doc != nil
		}
		if !documented {
			t.Errorf("%s: no package doc comment", dir)
		}
	}
}

func TestLineWidth(t *testing.T) {
	for _, files := range goFiles(t) {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(b), "\n") {
				if w := len(strings.ReplaceAll(line, "\t", "    ")); w > maxLine {
					t.Errorf("%s:%d: line is %d columns wide (limit %d)", f, i+1, w, maxLine)
				}
			}
		}
	}
}

// bannedImports are imports that production code must not use, with why.
var bannedImports = map[string]string{
	"math/rand":    "use crypto/rand for anything a secret could come from",
	"math/rand/v2": "use crypto/rand for anything a secret could come from",
	"log":          "log with hclog through the subsystem's named logger",
}

// importAllowed lists directories allowed an otherwise banned import.
var importAllowed = map[string][]string{
	"math/rand/v2": {"cmd/passman-bench"},
}

func TestBannedImports(t *testing.T) {
	for dir, files := range goFiles(t) {
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				why, banned := bannedImports[path]
				if banned && !allowedIn(path, dir) {
					t.Errorf("%s imports %s: %s", f, path, why)
				}
			}
		}
	}
}

func allowedIn(path, dir string) bool {
	for _, d := range importAllowed[path] {
		if strings.HasSuffix(filepath.ToSlash(dir), d) {
			return true
		}
	}
	return false
}

// TestNoPrintInServer keeps the server's output on its logger: a Print
// there bypasses log levels and the secret rules of logging.
func TestNoPrintInServer(t *testing.T) {
	for dir, files := range goFiles(t) {
		if !strings.Contains(filepath.ToSlash(dir), "/server") {
			continue
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			af, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(af, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "fmt" && strings.HasPrefix(sel.Sel.Name, "Print") {
					t.Errorf("%s: fmt.%s in server code; log through hclog", fset.Position(sel.Pos()), sel.Sel.Name)
				}
				return true
			})
		}
	}
}
