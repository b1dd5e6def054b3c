(ns incr
  (:require [eve.core :as eve]))
;; nbb incr.cljs FILE N: N swap! inc of the eve atom :counter in FILE
(let [;; nbb's argv: node, nbb's cli, its options, the script, then the
      ;; script's own arguments
      args (drop-while #(not (.endsWith % "incr.cljs")) (js->clj js/process.argv))
      [_ file n] args
      c (eve/atom {:id :counter :persistent file} 0)]
  (dotimes [_ (js/parseInt n)] (swap! c inc)))
