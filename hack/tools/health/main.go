// Command health evaluates a custom resource's health the way the GitOps tools do, so the
// operator's health rules are tested with the same code those tools embed:
//
//	health argocd SCRIPT.lua OBJECT.json   Argo CD's Lua health check (gopher-lua, as Argo CD)
//	health kstatus OBJECT.json             Flux's and kpt's kstatus (sigs.k8s.io/cli-utils)
//
// Each prints one JSON line: {"status": ..., "message": ...}.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "health:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 3 && args[0] == "argocd" {
		obj, err := readObject(args[2])
		if err != nil {
			return err
		}
		script, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		st, msg, err := argocd(string(script), obj)
		if err != nil {
			return err
		}
		return print(st, msg)
	}
	if len(args) == 2 && args[0] == "kstatus" {
		obj, err := readObject(args[1])
		if err != nil {
			return err
		}
		res, err := status.Compute(&unstructured.Unstructured{Object: obj})
		if err != nil {
			return err
		}
		return print(res.Status.String(), res.Message)
	}
	return fmt.Errorf("usage: health argocd SCRIPT.lua OBJECT.json | health kstatus OBJECT.json")
}

func readObject(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Integers as int64, as the API machinery reads them (kstatus asks for int64 generations).
	var obj map[string]any
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return obj, nil
}

func print(st, msg string) error {
	return json.NewEncoder(os.Stdout).Encode(map[string]string{"status": st, "message": msg})
}

// argocd runs a health script as Argo CD's resource_customizations do: the object is the global
// `obj`, only the safe standard libraries are open, and the script returns a table with
// `status` and `message`.
func argocd(script string, obj map[string]any) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		l.Push(l.NewFunction(lib.fn))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	// Argo CD preloads a safe `os` (time and date; no files, no processes): require("os").
	l.Push(l.NewFunction(lua.OpenOs))
	l.Call(0, 1)
	full := l.Get(-1).(*lua.LTable)
	l.Pop(1)
	l.SetGlobal(lua.OsLibName, lua.LNil)
	safe := l.NewTable()
	for _, name := range []string{"time", "date", "clock", "difftime"} {
		safe.RawSetString(name, full.RawGetString(name))
	}
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(safe)
		return 1
	})
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	return lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message")), nil
}

func toLua(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case int64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []any:
		t := l.NewTable()
		for _, e := range x {
			t.Append(toLua(l, e))
		}
		return t
	case map[string]any:
		t := l.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	}
	return lua.LString(fmt.Sprint(v))
}
