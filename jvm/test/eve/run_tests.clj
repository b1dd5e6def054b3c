(ns eve.run-tests
  "Runs the eve JVM suites: java ... clojure.main -m eve.run-tests [ns ...]
  (all of them without arguments).  Exits 1 on any failure or error."
  (:require [clojure.test :as t]))

(def suites '[eve.values-test eve.errors-test eve.model-test eve.concurrency-test
              eve.watch-test eve.memory-test])

(defn -main [& only]
  (let [nss (if (seq only) (map symbol only) suites)]
    (apply require nss)
    (let [{:keys [fail error test pass]} (apply t/run-tests nss)]
      (println (format "eve JVM tests: %d tests, %d assertions, %d failures, %d errors"
                       test (+ pass fail error) fail error))
      (shutdown-agents)
      (System/exit (if (zero? (+ fail error)) 0 1)))))
