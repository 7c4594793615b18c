// json_simdjson.cpp - the thin C shim over simdjson (see json.h).
//
// Why simdjson: measured on this machine kind (shared/research/perf-anchors.md)
// it parses ECS lines several times faster than cJSON (0.3 GB/s) or jansson
// (0.07 GB/s). Which simdjson API, measured here on bench/gen_ecs output
// (1.8 KB events, half with 4-12 frame call stacks), one core:
//   DOM parse (validates every byte) + call-stack lookup   2.37 GB/s
//   On-Demand walk validating every value                   ~1.0 GB/s
// Debian's simdjson.h compiles On-Demand against its portable "fallback"
// kernel while DOM's stage 2 is dispatched at run time (icelake here), so we
// parse with DOM: every document is fully validated, every field is kept in
// the DOM, and the fields decoding needs are copied into the flat node table
// (json.h), skipping unwanted subtrees in O(1) thanks to the tape's jump
// indexes. The rest is converted only if someone asks (mj_parse_full).
// DOM errors carry no position, so a failed line is walked once more with
// On-Demand just to say where (rare: only bad input pays for it).
// No exceptions: every simdjson call uses the error-code API.
#include <simdjson.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "json.h"

using namespace simdjson;

struct mj_parser {
    dom::parser dom;
    dom::element root;   /* valid until the next parse */
    ondemand::parser od; /* error locations only */
    mj_doc scratch;
    unsigned max_depth;
    uint32_t max_nodes;
    explicit mj_parser(size_t max_len) : dom(max_len), od(max_len), scratch{} {}
};

namespace
{

/* Append a zeroed node; UINT32_MAX when out of room or memory. */
uint32_t node_add(mj_doc *doc, uint32_t max_nodes, uint32_t parent, const char *key,
                  uint32_t key_len)
{
    if (doc->n >= max_nodes) return UINT32_MAX;
    if (doc->n == doc->cap) {
        uint32_t cap = doc->cap ? doc->cap * 2 : 256;
        void *p = std::realloc(doc->nodes, sizeof(mj_node) * cap);
        if (!p) return UINT32_MAX;
        doc->nodes = (mj_node *)p;
        doc->cap = cap;
    }
    uint32_t i = doc->n++;
    mj_node *nd = &doc->nodes[i];
    std::memset(nd, 0, sizeof *nd);
    nd->key = key;
    nd->key_len = key_len;
    nd->parent = parent;
    return i;
}

/* On-Demand walk of a whole document: used to locate errors. */
struct walker {
    mj_doc *doc;
    const char *base;
    unsigned max_depth;
    uint32_t max_nodes;
    mj_error *err;

    bool fail(int code, const char *msg, const char *at)
    {
        err->code = code;
        err->msg = msg;
        err->offset = at && at >= base ? (size_t)(at - base) : 0;
        return false;
    }

    bool fail_simd(error_code e, const char *at)
    {
        return fail((int)e, error_message(e), at);
    }

    uint32_t add(uint32_t parent, std::string_view key, bool has_key)
    {
        return node_add(doc, max_nodes, parent, has_key ? key.data() : nullptr,
                        has_key ? (uint32_t)key.size() : 0);
    }

    template <typename V>
    bool scalar_or_container(V &val, uint32_t self, unsigned depth, const mj_want *want);

    bool object(ondemand::object obj, uint32_t self, unsigned depth, const mj_want *want)
    {
        uint32_t prev = 0;
        for (auto field : obj) {
            if (field.error()) return fail_simd(field.error(), nullptr);
            ondemand::field f = field.value_unsafe();
            /* Keys are read in place: the raw key points into the input, just
             * past its opening quote. Only a key with an escape is unescaped. */
            const char *raw = f.key().raw();
            size_t kn = 0;
            while (raw[kn] != '"' && raw[kn] != '\\') kn++;
            std::string_view key(raw, kn);
            if (raw[kn] == '\\') {
                if (auto e = f.unescaped_key().get(key)) return fail_simd(e, nullptr);
            }
            uint32_t c = add(self, key, true);
            if (c == UINT32_MAX) return fail(1000, "too many values in one document", nullptr);
            if (prev) doc->nodes[prev].next = c;
            prev = c;
            doc->nodes[self].count++;
            ondemand::value v = f.value();
            if (!scalar_or_container(v, c, depth + 1, want)) return false;
        }
        return true;
    }

    bool array(ondemand::array arr, uint32_t self, unsigned depth, const mj_want *want)
    {
        uint32_t prev = 0;
        for (auto elem : arr) {
            ondemand::value v;
            if (auto e = elem.get(v)) return fail_simd(e, nullptr);
            uint32_t c = add(self, std::string_view(), false);
            if (c == UINT32_MAX) return fail(1000, "too many values in one document", nullptr);
            if (prev) doc->nodes[prev].next = c;
            prev = c;
            doc->nodes[self].count++;
            if (!scalar_or_container(v, c, depth + 1, want)) return false;
        }
        return true;
    }
};

template <typename V>
bool walker::scalar_or_container(V &val, uint32_t self, unsigned depth, const mj_want *want)
{
    const char *at = val.raw_json_token().data();
    mj_node *nd = &doc->nodes[self];
    ondemand::json_type t;
    if (auto e = val.type().get(t)) return fail_simd(e, at);
    switch (t) {
    case ondemand::json_type::object: {
        if (depth >= max_depth) return fail(1001, "JSON nested too deeply", at);
        nd->type = MJ_OBJECT;
        ondemand::object o;
        if (auto e = val.get_object().get(o)) return fail_simd(e, at);
        return object(o, self, depth, want);
    }
    case ondemand::json_type::array: {
        if (depth >= max_depth) return fail(1001, "JSON nested too deeply", at);
        nd->type = MJ_ARRAY;
        ondemand::array a;
        if (auto e = val.get_array().get(a)) return fail_simd(e, at);
        return array(a, self, depth, want);
    }
    case ondemand::json_type::string: {
        std::string_view s;
        if (auto e = val.get_string().get(s)) return fail_simd(e, at);
        nd = &doc->nodes[self];
        nd->type = MJ_STRING;
        nd->v.s = s.data();
        nd->len = (uint32_t)s.size();
        return true;
    }
    case ondemand::json_type::number: {
        ondemand::number_type nt;
        if (auto e = val.get_number_type().get(nt)) return fail_simd(e, at);
        if (nt == ondemand::number_type::signed_integer) {
            int64_t i;
            if (auto e = val.get_int64().get(i)) return fail_simd(e, at);
            nd->type = MJ_INT;
            nd->v.i = i;
        } else if (nt == ondemand::number_type::unsigned_integer) {
            uint64_t u;
            if (auto e = val.get_uint64().get(u)) return fail_simd(e, at);
            nd->type = MJ_UINT;
            nd->v.u = u;
        } else {
            double d;
            if (auto e = val.get_double().get(d)) return fail_simd(e, at);
            nd->type = MJ_DOUBLE;
            nd->v.d = d;
        }
        return true;
    }
    case ondemand::json_type::boolean: {
        bool b;
        if (auto e = val.get_bool().get(b)) return fail_simd(e, at);
        nd->type = MJ_BOOL;
        nd->b = b;
        return true;
    }
    case ondemand::json_type::null: {
        bool is_null = false;
        if (auto e = val.is_null().get(is_null)) return fail_simd(e, at);
        if (!is_null) return fail(1002, "invalid literal", at);
        nd->type = MJ_NULL;
        return true;
    }
    }
    return fail(1002, "unexpected JSON value", at);
}

} // namespace

/* DOM element -> node table, keeping only what `want` asks for. */
struct converter {
    mj_doc *doc;
    uint32_t max_nodes;

    bool add(uint32_t parent, const char *key, uint32_t key_len, uint32_t *out)
    {
        *out = node_add(doc, max_nodes, parent, key, key_len);
        return *out != UINT32_MAX;
    }

    bool value(dom::element el, uint32_t self, const mj_want *want)
    {
        mj_node *nd = &doc->nodes[self];
        switch (el.type()) {
        case dom::element_type::OBJECT: {
            nd->type = MJ_OBJECT;
            uint32_t prev = 0;
            dom::object obj;
            if (el.get_object().get(obj)) return false;
            for (dom::key_value_pair kv : obj) {
                const mj_want *kw = nullptr;
                if (want) {
                    kw = mj_want_find(want, kv.key.data(), kv.key.size());
                    if (!kw) continue; /* skipped in O(1): the tape jumps over it */
                    if (kw->all) kw = nullptr;
                }
                uint32_t c;
                if (!add(self, kv.key.data(), (uint32_t)kv.key.size(), &c)) return false;
                if (prev) doc->nodes[prev].next = c;
                prev = c;
                doc->nodes[self].count++;
                if (!value(kv.value, c, kw)) return false;
            }
            return true;
        }
        case dom::element_type::ARRAY: {
            nd->type = MJ_ARRAY;
            uint32_t prev = 0;
            dom::array arr;
            if (el.get_array().get(arr)) return false;
            for (dom::element e : arr) {
                uint32_t c;
                if (!add(self, nullptr, 0, &c)) return false;
                if (prev) doc->nodes[prev].next = c;
                prev = c;
                doc->nodes[self].count++;
                if (!value(e, c, want)) return false;
            }
            return true;
        }
        case dom::element_type::STRING: {
            std::string_view v;
            if (el.get_string().get(v)) return false;
            nd->type = MJ_STRING;
            nd->v.s = v.data();
            nd->len = (uint32_t)v.size();
            return true;
        }
        case dom::element_type::INT64: nd->type = MJ_INT; return !el.get_int64().get(nd->v.i);
        case dom::element_type::UINT64: nd->type = MJ_UINT; return !el.get_uint64().get(nd->v.u);
        case dom::element_type::DOUBLE: nd->type = MJ_DOUBLE; return !el.get_double().get(nd->v.d);
        case dom::element_type::BOOL: {
            bool b;
            if (el.get_bool().get(b)) return false;
            nd->type = MJ_BOOL;
            nd->b = b;
            return true;
        }
        case dom::element_type::NULL_VALUE: nd->type = MJ_NULL; return true;
        }
        return false;
    }
};

/* Say where a document simdjson's DOM rejected is wrong. */
static void locate_error(mj_parser *p, const char *buf, size_t len, error_code dom_err,
                         mj_error *err)
{
    walker w{&p->scratch, buf, p->max_depth, p->max_nodes, err};
    p->scratch.n = 0;
    *err = mj_error{0, nullptr, 0};
    ondemand::document d;
    if (auto e = p->od.iterate(buf, len, len + MJ_PADDING).get(d)) {
        w.fail_simd(e, nullptr);
        return;
    }
    uint32_t root = w.add(0, std::string_view(), false);
    ondemand::json_type t;
    if (root == UINT32_MAX) {
        w.fail(1000, "out of memory", nullptr);
    } else if (auto e = d.type().get(t)) {
        const char *loc = nullptr;
        if (d.current_location().get(loc)) loc = nullptr;
        w.fail_simd(e, loc);
    } else if (t != ondemand::json_type::object) {
        w.fail(1004, "not a JSON object", buf);
    } else {
        ondemand::object o;
        if (auto e = d.get_object().get(o)) {
            w.fail_simd(e, buf);
        } else if (!w.object(o, root, 1, nullptr)) {
            if (!err->offset) {
                const char *loc = nullptr;
                if (!d.current_location().get(loc)) err->offset = (size_t)(loc - buf);
            }
        } else {
            const char *rest = nullptr;
            if (!d.current_location().get(rest) && rest)
                w.fail(1005, "trailing content after the JSON object", rest);
        }
    }
    if (!err->code) { /* On-Demand found nothing more precise: DOM's word */
        err->code = (int)dom_err;
        err->msg = dom_err == DEPTH_ERROR ? "JSON nested too deeply" : error_message(dom_err);
        err->offset = 0;
    }
}

extern "C" {

mj_parser *mj_parser_create(size_t max_doc_len, unsigned max_depth, uint32_t max_nodes)
{
    mj_parser *p = new (std::nothrow) mj_parser(max_doc_len);
    if (!p) return nullptr;
    p->max_depth = max_depth;
    p->max_nodes = max_nodes;
    if (p->dom.allocate(64 * 1024, max_depth)) {
        delete p;
        return nullptr;
    }
    return p;
}

void mj_parser_destroy(mj_parser *p)
{
    if (!p) return;
    mj_doc_free(&p->scratch);
    delete p;
}

void mj_doc_free(mj_doc *doc)
{
    std::free(doc->nodes);
    doc->nodes = nullptr;
    doc->n = doc->cap = 0;
}

int mj_parse(mj_parser *p, const char *buf, size_t len, const mj_want *want, mj_doc *doc,
             mj_error *err)
{
    *err = mj_error{0, nullptr, 0};
    doc->n = 0;
    if (len > UINT32_MAX - MJ_PADDING) {
        *err = mj_error{1003, "document too large", 0};
        return err->code;
    }
    /* realloc_if_needed=false: the caller guarantees MJ_PADDING readable bytes */
    if (auto e = p->dom.parse(buf, len, false).get(p->root)) {
        locate_error(p, buf, len, e, err);
        return err->code ? err->code : 1;
    }
    if (p->root.type() != dom::element_type::OBJECT) {
        size_t i = 0;
        while (i < len && (buf[i] == ' ' || buf[i] == '\t')) i++;
        *err = mj_error{1004, "not a JSON object", i};
        return err->code;
    }
    converter c{doc, p->max_nodes};
    uint32_t root;
    if (!c.add(0, nullptr, 0, &root) || !c.value(p->root, root, want)) {
        *err = mj_error{1000, "too many values in one document", 0};
        return err->code;
    }
    return 0;
}

int mj_parse_full(mj_parser *p, mj_doc *doc, mj_error *err)
{
    *err = mj_error{0, nullptr, 0};
    doc->n = 0;
    converter c{doc, p->max_nodes};
    uint32_t root;
    if (!c.add(0, nullptr, 0, &root) || !c.value(p->root, root, nullptr)) {
        *err = mj_error{1000, "too many values in one document", 0};
        return err->code;
    }
    return 0;
}

} // extern "C"
