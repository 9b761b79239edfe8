package logs

import (
	"strconv"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"
)

// Bleve field names of a block document. Every value is indexed as one
// keyword term: the block index has already tokenized text.
const (
	bleveFieldsField = "_fields" // the paths present in the block
	// _unpruned: paths with too many distinct values (or words) in the block
	// to index; a query on such a path cannot rule the block out.
	bleveUnprunedField = "_unpruned"
	bleveValuePrefix   = "f." // f.<path>: distinct values
	bleveTokenPrefix   = "t." // t.<path>: distinct words of text values
)

// BleveValueField and BleveTokenField name the block-document fields a
// Matcher's Prune query may use.
func BleveValueField(path string) string { return bleveValueField(path) }
func BleveTokenField(path string) string { return bleveTokenPrefix + path }
func BleveFieldsField() string           { return bleveFieldsField }
func BleveUnprunedField() string         { return bleveUnprunedField }

// maxBleveTerms is the most distinct values (and, separately, words) of one
// field a block document carries. Beyond it (request ids, timestamps) the
// terms make bleve's segment merges the ingest bottleneck while pruning
// almost nothing: such a field's block is simply always a candidate.
const maxBleveTerms = 256

// maxBleveTermLen is the longest value (or word) indexed for pruning. A
// 64 KiB value as one keyword term made bleve's FST building and merging the
// ingest bottleneck; such a field's block stays a candidate instead.
const maxBleveTermLen = 256

func bleveValueField(path string) string { return bleveValuePrefix + path }

// indexable says whether every term fits in the block document.
func indexable(terms []string) bool {
	if len(terms) > maxBleveTerms {
		return false
	}
	for _, t := range terms {
		if len(t) > maxBleveTermLen {
			return false
		}
	}
	return true
}

var keywordAnalyzer analysis.Analyzer = &analysis.DefaultAnalyzer{Tokenizer: single.NewSingleTokenTokenizer()}

// indexedKey is stored inside the bleve index with each batch: the highest
// block sequence the index covers. Blocks after it are re-indexed on open.
var indexedKey = []byte("obs.indexed_seq")

type pendingBlock struct {
	seq uint32
	ix  *BlockIndex
}

// blockDoc is the bleve document of one block.
func blockDoc(seq uint32, ix *BlockIndex) *document.Document {
	doc := document.NewDocument(strconv.FormatUint(uint64(seq), 10))
	opts := index.IndexField
	add := func(field, v string) {
		doc.AddField(document.NewTextFieldCustom(field, nil, []byte(v), opts, keywordAnalyzer))
	}
	for _, name := range ix.names {
		f := ix.fields[name]
		add(bleveFieldsField, name)
		dictOK, tokOK := indexable(f.Dict), indexable(f.Tokens)
		if !dictOK || !tokOK {
			add(bleveUnprunedField, name)
		}
		if dictOK {
			fn := bleveValueField(name)
			for _, v := range f.Dict {
				add(fn, v)
			}
		}
		if tokOK {
			tn := bleveTokenPrefix + name
			for _, t := range f.Tokens {
				add(tn, t)
			}
		}
	}
	return doc
}
