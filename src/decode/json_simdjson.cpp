// json_simdjson.cpp - the thin C shim over simdjson On-Demand (see json.h).
//
// Why simdjson: measured on this machine kind (shared/research/perf-anchors.md)
// On-Demand parses ~1.3 KB ECS lines at ~1.9 GB/s per core against 0.3 GB/s
// for cJSON and 0.07 GB/s for jansson. We walk every value once into a flat
// node table (json.h), so the rest of modus stays C and sees every field.
// The walk is iterative over the node table's parent links but recursive in
// simdjson's iterator; depth is capped (limits.h) before the C++ stack could
// suffer. No exceptions: every simdjson call uses the error-code API.
#include <simdjson.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "json.h"

using namespace simdjson;

struct mj_parser {
    ondemand::parser parser;
    unsigned max_depth;
    uint32_t max_nodes;
    explicit mj_parser(size_t max_len) : parser(max_len) {}
};

namespace
{

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
        nd->key = has_key ? key.data() : nullptr;
        nd->key_len = has_key ? (uint32_t)key.size() : 0;
        nd->parent = parent;
        return i;
    }

    template <typename V>
    bool scalar_or_container(V &val, uint32_t self, unsigned depth, const mj_want *want);

    /* Walk a value the caller does not need, only to prove it well-formed:
     * On-Demand checks what it is asked to read and nothing else. */
    bool validate(ondemand::value &val, unsigned depth)
    {
        ondemand::json_type t;
        if (auto e = val.type().get(t)) return fail_simd(e, nullptr);
        switch (t) {
        case ondemand::json_type::object: {
            if (depth >= max_depth)
                return fail(1001, "JSON nested too deeply", val.raw_json_token().data());
            ondemand::object o;
            if (auto e = val.get_object().get(o)) return fail_simd(e, nullptr);
            for (auto field : o) {
                if (field.error()) return fail_simd(field.error(), nullptr);
                ondemand::field f = field.value_unsafe();
                const char *raw = f.key().raw();
                size_t kn = 0;
                while (raw[kn] != '"' && raw[kn] != '\\') kn++;
                if (raw[kn] == '\\') {
                    std::string_view k;
                    if (auto e = f.unescaped_key().get(k)) return fail_simd(e, nullptr);
                }
                ondemand::value v = f.value();
                if (!validate(v, depth + 1)) return false;
            }
            return true;
        }
        case ondemand::json_type::array: {
            if (depth >= max_depth)
                return fail(1001, "JSON nested too deeply", val.raw_json_token().data());
            ondemand::array a;
            if (auto e = val.get_array().get(a)) return fail_simd(e, nullptr);
            for (auto elem : a) {
                ondemand::value v;
                if (auto e = elem.get(v)) return fail_simd(e, nullptr);
                if (!validate(v, depth + 1)) return false;
            }
            return true;
        }
        case ondemand::json_type::string: {
            std::string_view s;
            if (auto e = val.get_string().get(s)) return fail_simd(e, nullptr);
            return true;
        }
        case ondemand::json_type::number: {
            ondemand::number n;
            if (auto e = val.get_number().get(n)) return fail_simd(e, val.raw_json_token().data());
            return true;
        }
        case ondemand::json_type::boolean: {
            bool b;
            if (auto e = val.get_bool().get(b)) return fail_simd(e, val.raw_json_token().data());
            return true;
        }
        case ondemand::json_type::null: {
            bool is_null = false;
            if (auto e = val.is_null().get(is_null)) return fail_simd(e, nullptr);
            if (!is_null) return fail(1002, "invalid literal", val.raw_json_token().data());
            return true;
        }
        }
        return fail(1002, "unexpected JSON value", nullptr);
    }

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
            const mj_want *kw = nullptr;
            if (want) {
                kw = mj_want_find(want, key.data(), key.size());
                if (!kw) { /* not needed: validated, not recorded */
                    ondemand::value v = f.value();
                    if (!validate(v, depth + 1)) return false;
                    continue;
                }
                if (kw->all) kw = nullptr;
            }
            uint32_t c = add(self, key, true);
            if (c == UINT32_MAX) return fail(1000, "too many values in one document", nullptr);
            if (prev) doc->nodes[prev].next = c;
            prev = c;
            doc->nodes[self].count++;
            ondemand::value v = f.value();
            if (!scalar_or_container(v, c, depth + 1, kw)) return false;
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
    const char *at = nullptr; /* only containers need their offset (output splices) */
    mj_node *nd = &doc->nodes[self];
    ondemand::json_type t;
    if (auto e = val.type().get(t)) return fail_simd(e, at);
    if (t == ondemand::json_type::object || t == ondemand::json_type::array) {
        at = val.raw_json_token().data();
        nd->off = (uint32_t)(at - base);
    }
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

extern "C" {

mj_parser *mj_parser_create(size_t max_doc_len, unsigned max_depth, uint32_t max_nodes)
{
    mj_parser *p = new (std::nothrow) mj_parser(max_doc_len);
    if (!p) return nullptr;
    p->max_depth = max_depth;
    p->max_nodes = max_nodes;
    return p;
}

void mj_parser_destroy(mj_parser *p)
{
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
    walker w{doc, buf, p->max_depth, p->max_nodes, err};
    if (len > UINT32_MAX - MJ_PADDING)
        return w.fail(1003, "document too large", nullptr), err->code;
    ondemand::document d;
    if (auto e = p->parser.iterate(buf, len, len + MJ_PADDING).get(d)) {
        w.fail_simd(e, nullptr);
        return err->code;
    }
    uint32_t root = w.add(0, std::string_view(), false);
    if (root == UINT32_MAX) return w.fail(1000, "out of memory", nullptr), err->code;
    ondemand::json_type t;
    if (auto e = d.type().get(t)) {
        const char *loc = nullptr;
        if (d.current_location().get(loc)) loc = nullptr;
        w.fail_simd(e, loc);
        return err->code;
    }
    if (t != ondemand::json_type::object) {
        w.fail(1004, "not a JSON object", buf);
        return err->code;
    }
    ondemand::object o;
    if (auto e = d.get_object().get(o)) {
        w.fail_simd(e, buf);
        return err->code;
    }
    doc->nodes[root].type = MJ_OBJECT;
    doc->nodes[root].off = 0;
    while (len && buf[doc->nodes[root].off] != '{' && doc->nodes[root].off < len)
        doc->nodes[root].off++;
    if (!w.object(o, root, 1, want)) {
        if (!err->offset) {
            const char *loc = nullptr;
            if (!d.current_location().get(loc)) err->offset = (size_t)(loc - buf);
        }
        return err->code;
    }
    /* at the end of input current_location() fails; anything else is trailing content */
    const char *rest = nullptr;
    if (!d.current_location().get(rest) && rest) {
        w.fail(1005, "trailing content after the JSON object", rest);
        return err->code;
    }
    return 0;
}

} // extern "C"
