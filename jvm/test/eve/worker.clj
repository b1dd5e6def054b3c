(ns eve.worker
  "A JVM process of the eve tests: increments an eve atom N times.
    java ... clojure.main -m eve.worker FILE ATOM N"
  (:require [eve.core :as eve]))

(defn -main [file atom-name n]
  (let [a (eve/atom {:id atom-name :persistent file})]
    (dotimes [_ (Long/parseLong n)]
      (swap! a (fnil inc 0)))
    (shutdown-agents)
    (System/exit 0)))
