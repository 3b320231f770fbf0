package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"
)

// schemaBase is where the schema files of package schemas are named by
// their $id; the document's source refers to them there.
const schemaBase = "https://nuisance.xm.gov/schemas/"

// bundle makes a document self-contained, so that tools which know
// nothing of $id (code generators, validators) resolve every $ref in it:
// each schema file a $ref names under schemaBase is read from fsys and
// placed in components.schemas, without its $schema and $id, and every
// $ref to it, or into it (its own #/$defs/x included), is rewritten to a
// JSON pointer into the document. A component that is only a $ref to a
// file takes the file's content; a file no component is only a $ref to
// gets a component of its name without .json (report.weekly.v1). The
// document's keys keep their order.
func bundle(src []byte, fsys fs.FS) ([]byte, error) {
	root, err := decodeOrdered(src)
	if err != nil {
		return nil, err
	}
	doc, ok := root.(*object)
	if !ok {
		return nil, errors.New("bundle: the document is not an object")
	}
	b := &bundler{fsys: fsys, home: map[string]string{}}
	if comps, ok := doc.get("components").(*object); ok {
		b.schemas, _ = comps.get("schemas").(*object)
	}
	// A component that is only a $ref to a whole file is its home.
	if b.schemas != nil {
		for _, name := range b.schemas.keys {
			c, ok := b.schemas.vals[name].(*object)
			if !ok || len(c.keys) != 1 {
				continue
			}
			ref, ok := c.get("$ref").(string)
			if !ok {
				continue
			}
			if file, ok := strings.CutPrefix(ref, schemaBase); ok && !strings.Contains(file, "#") && b.home[file] == "" {
				b.home[file] = name
				b.homes = append(b.homes, file)
			}
		}
	}
	if err := b.rewrite(doc, "", ""); err != nil {
		return nil, err
	}
	for i := 0; i < len(b.homes); i++ {
		if err := b.place(b.homes[i]); err != nil {
			return nil, err
		}
	}
	return encodeOrdered(doc)
}

type bundler struct {
	fsys    fs.FS
	schemas *object           // components.schemas, nil until needed
	home    map[string]string // file name → its component
	homes   []string          // the files to bundle, in the order found
}

// componentOf returns the component a file is bundled under, naming
// one after the file when no component is only a $ref to it.
func (b *bundler) componentOf(file string) (string, error) {
	if name, ok := b.home[file]; ok {
		return name, nil
	}
	name := strings.TrimSuffix(file, ".json")
	if b.schemas != nil && b.schemas.has(name) {
		return "", fmt.Errorf("bundle %s: components.schemas already has a %s", file, name)
	}
	b.home[file] = name
	b.homes = append(b.homes, file)
	return name, nil
}

// target is where a $ref written in a resource (base: its URL, "" for
// the document) points once bundled; ok is false for a ref into the
// document already.
func (b *bundler) target(ref, base string) (string, bool, error) {
	if strings.HasPrefix(ref, "#") {
		if base == "" {
			return "", false, nil
		}
	}
	u := ref
	if base != "" {
		bu, err := url.Parse(base)
		if err != nil {
			return "", false, err
		}
		ru, err := url.Parse(ref)
		if err != nil {
			return "", false, fmt.Errorf("$ref %q: %w", ref, err)
		}
		u = bu.ResolveReference(ru).String()
	}
	file, ok := strings.CutPrefix(u, schemaBase)
	if !ok {
		return "", false, fmt.Errorf("$ref %q: only schemas under %s can be bundled", ref, schemaBase)
	}
	file, frag, _ := strings.Cut(file, "#")
	if file == "" || strings.Contains(file, "/") {
		return "", false, fmt.Errorf("$ref %q: no schema file", ref)
	}
	if frag != "" && !strings.HasPrefix(frag, "/") {
		return "", false, fmt.Errorf("$ref %q: an anchor cannot be bundled, only a JSON pointer", ref)
	}
	name, err := b.componentOf(file)
	if err != nil {
		return "", false, err
	}
	return "#/components/schemas/" + escape(name) + frag, true, nil
}

// rewrite rewrites every $ref under v that the document cannot resolve
// alone; base is the URL of the schema file v is part of ("" for the
// document's own text), at where v is, for errors.
func (b *bundler) rewrite(v any, base, at string) error {
	switch v := v.(type) {
	case *object:
		for _, k := range v.keys {
			x := v.vals[k]
			if k == "$ref" {
				if ref, ok := x.(string); ok {
					to, ok, err := b.target(ref, base)
					if err != nil {
						return fmt.Errorf("bundle %s: %w", at, err)
					}
					if ok {
						v.vals[k] = to
					}
					continue
				}
			}
			if base != "" && (k == "$id" || k == "$anchor" || k == "$dynamicAnchor" || k == "$dynamicRef") {
				return fmt.Errorf("bundle %s: %s cannot be bundled", at, k)
			}
			if err := b.rewrite(x, base, at+"/"+escape(k)); err != nil {
				return err
			}
		}
	case []any:
		for i, x := range v {
			if err := b.rewrite(x, base, fmt.Sprintf("%s/%d", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// place puts a schema file under its component, its refs rewritten.
func (b *bundler) place(file string) error {
	raw, err := fs.ReadFile(b.fsys, file)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	v, err := decodeOrdered(raw)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", file, err)
	}
	s, ok := v.(*object)
	if !ok {
		return fmt.Errorf("bundle %s: not a schema object", file)
	}
	base := schemaBase + file
	if id, ok := s.get("$id").(string); ok && id != base {
		return fmt.Errorf("bundle %s: $id %s, want %s", file, id, base)
	}
	s.del("$id")
	s.del("$schema")
	if err := b.rewrite(s, base, file); err != nil {
		return err
	}
	if b.schemas == nil {
		return fmt.Errorf("bundle %s: the document has no components.schemas", file)
	}
	b.schemas.set(b.home[file], s)
	return nil
}

// object is a JSON object that keeps its keys' order.
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) get(k string) any  { return o.vals[k] }
func (o *object) has(k string) bool { _, ok := o.vals[k]; return ok }
func (o *object) set(k string, v any) {
	if !o.has(k) {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) del(k string) {
	if !o.has(k) {
		return
	}
	delete(o.vals, k)
	for i, x := range o.keys {
		if x == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			return
		}
	}
}

// decodeOrdered decodes JSON into *object, []any, json.Number, string,
// bool and nil.
func decodeOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("JSON: data after the document")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		o := &object{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			if o.has(k) {
				return nil, fmt.Errorf("JSON: key %q twice", k)
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(k, v)
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return t, nil
}

// encodeOrdered writes v indented by two spaces, keys in order, <, > and
// & as they are.
func encodeOrdered(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeValue(&buf, v); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func encodeValue(buf *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case *object:
		buf.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeValue(buf, k); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeValue(buf, v.vals[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeValue(buf, x); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
	return nil
}
