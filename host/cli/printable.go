package cli

import (
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// What the CLI prints from the bus (events, status, the configuration's
// history) was written by whoever could publish there: a control
// character in it (an escape sequence, a carriage return, a newline that
// fakes a line) must reach the terminal escaped, as strconv.Quote would.

// printable is s with every non-printable character escaped (\n, \x1b,
// \u2028); s itself when it has none.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0 {
		return s
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	// Quote escapes the quotes too; keep them as they were.
	return strings.ReplaceAll(q, `\"`, `"`)
}

// escapeAll makes every string reachable from v (a pointer) printable:
// fields, slice elements, map keys and values. The text renderers then
// need not know which of their fields came from the bus.
func escapeAll(v any) { escapeValue(reflect.ValueOf(v)) }

func escapeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			escapeValue(v.Elem())
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(printable(v.String()))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				escapeValue(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			escapeValue(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		iter := v.MapRange()
		type kv struct{ k, v reflect.Value }
		var entries []kv
		for iter.Next() {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(iter.Key())
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(iter.Value())
			entries = append(entries, kv{k, e})
		}
		for _, en := range entries {
			old := reflect.New(v.Type().Key()).Elem()
			old.Set(en.k)
			escapeValue(en.k)
			escapeValue(en.v)
			v.SetMapIndex(old, reflect.Value{})
			v.SetMapIndex(en.k, en.v)
		}
	}
}
