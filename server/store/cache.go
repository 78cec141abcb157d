package store

import (
	"reflect"
	"sync"
)

// maxCacheEntries bounds the read cache; past it the cache starts over.
const maxCacheEntries = 1 << 17

// cachedPrefixes are the tables whose records are read far more often than
// they are written: the tree, grants, users, tokens, policies, agents,
// credentials and their versions. Jobs change at every step, and caching
// them would cost a second decode on nearly every read.
var cachedPrefixes = []string{prefixNode, prefixChild, prefixGrant, prefixUser, prefixToken,
	prefixPolicy, prefixAgent, prefixAgentKey, prefixVersion, prefixCred}

// cacheable reports whether the record at key is worth caching.
func cacheable(key []byte) bool {
	for _, p := range cachedPrefixes {
		if len(key) >= len(p) && string(key[:len(p)]) == p {
			return true
		}
	}
	return false
}

// readCache keeps decoded records, and the absence of records, that Get
// has read, so that the lookups every request makes (its token, the nodes
// of its path, their grants) skip Pebble and JSON.
//
// Writers invalidate what they write. A reader only fills the cache when no
// write was applied while it read: gen is odd while a write is being
// applied and moves on after its keys are dropped, and readers compare it
// under mu before storing.
type readCache struct {
	mu  sync.RWMutex
	gen uint64
	m   map[string]cacheEntry
}

type cacheEntry struct {
	typ     reflect.Type // the type Get decoded into, a pointer type
	val     reflect.Value
	missing bool
}

func newReadCache() *readCache { return &readCache{m: map[string]cacheEntry{}} }

// get copies the cached record at key into v. It reports whether the cache
// knew the key, and if so whether the record exists.
func (c *readCache) get(key []byte, v any) (hit, found bool) {
	if !cacheable(key) {
		return false, false
	}
	c.mu.RLock()
	e, ok := c.m[string(key)]
	c.mu.RUnlock()
	if !ok {
		return false, false
	}
	if e.missing {
		return true, false
	}
	t := reflect.TypeOf(v)
	if e.typ != t {
		return false, false
	}
	// A shallow copy: callers treat maps and slices of a record they read
	// from the store as read-only, and Tx reads never come from here.
	reflect.ValueOf(v).Elem().Set(e.val.Elem())
	return true, true
}

// generation returns the current generation for a reader about to read.
func (c *readCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// fill stores what a reader read at generation gen, unless a write was
// applied meanwhile: v, the record it decoded, or nil when there is none.
// The cache keeps a shallow copy of v, so v's maps and slices are shared
// with every later reader, who treat them as read-only.
func (c *readCache) fill(gen uint64, key []byte, t reflect.Type, v any) {
	if gen%2 == 1 || !cacheable(key) {
		return
	}
	e := cacheEntry{typ: t, missing: v == nil}
	if v != nil {
		e.val = reflect.ValueOf(shallowCopy(v))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.put(string(key), e)
	}
}

// put stores e at key, with c.mu held; past maxCacheEntries the cache
// starts over.
func (c *readCache) put(key string, e cacheEntry) {
	if len(c.m) >= maxCacheEntries {
		clear(c.m)
	}
	c.m[key] = e
}

// beginWrite marks a write as being applied.
func (c *readCache) beginWrite() {
	c.mu.Lock()
	c.gen++
	c.mu.Unlock()
}

// endWrite ends a write of keys. A key the write put a decoded record
// for, in written, is cached with it; the others are dropped.
func (c *readCache) endWrite(keys []string, written map[string]any) {
	c.mu.Lock()
	for _, k := range keys {
		if v, ok := written[k]; ok {
			c.put(k, cacheEntry{typ: reflect.TypeOf(v), val: reflect.ValueOf(v)})
		} else {
			delete(c.m, k)
		}
	}
	c.gen++
	c.mu.Unlock()
}

// shallowCopy returns a pointer to a copy of what v points to, or nil when
// v is not a pointer.
func shallowCopy(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil
	}
	cp := reflect.New(rv.Elem().Type())
	cp.Elem().Set(rv.Elem())
	return cp.Interface()
}
