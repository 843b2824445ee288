// A minimal HTTP server for the load-generator benchmark: answers every request with 200 "ok".
// Built by bench/loadgen.py with the local Go toolchain; listens on 127.0.0.1 only.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok"))
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
