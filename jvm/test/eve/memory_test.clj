(ns eve.memory-test
  "Memory stays flat over 1,000,000 derefs (EVE_JVM_DEREFS) with GC forced:
  every snapshot a view held is ended once the view is collected, the
  domain's live bytes come back to where they were, and the JVM's heap and
  resident set stay bounded."
  (:require [clojure.test :refer [deftest is use-fixtures]]
            [eve.core :as eve]
            [eve.test-util :as u]))

(use-fixtures :each u/with-tmp-dir)

(def derefs (Long/parseLong (or (System/getenv "EVE_JVM_DEREFS") "1000000")))
;; how far RSS may grow after the first fifth (ASan's quarantine needs more)
(def rss-slack-mib (Long/parseLong (or (System/getenv "EVE_JVM_RSS_SLACK_MIB") "64")))

(defn- settle
  "Force collections until the domain holds no snapshot of this process
  (the Cleaner ends them after the GC found their views unreachable);
  gives up after 100 rounds.  The stats after."
  [a]
  (loop [i 0]
    (System/gc)
    (System/runFinalization)
    (Thread/sleep 20)
    (let [s (eve/stats a)]
      (if (or (zero? (:snapshots s)) (>= i 100)) s (recur (inc i))))))

(deftest derefs-do-not-leak
  (let [a (eve/atom {:id ::mem :persistent (u/path "m.eve")}
                    {:n 0 :v (vec (range 100)) :s "a string longer than seven bytes" :m {:x #{1 2 3}}})
        ;; a first burst of swaps and derefs (the domain's first retire
        ;; and free-list blocks), then the baseline
        _ (dotimes [_ 1000] (swap! a update :n inc) (count @a))
        _ (reset! a (assoc @a :n 0))
        start (settle a)
        sum (volatile! 0)]
    (is (zero? (:snapshots start)))
    (let [rss0 (atom nil) heap0 (atom nil)]
      (dotimes [i derefs]
        (let [v @a]
          (vswap! sum + (count (:v v)) (count (:m v))))
        (when (zero? (mod i 1000))
          (swap! a update :n inc)) ; old versions retire while views come and go
        (when (zero? (mod i (quot derefs 5)))
          (System/gc)
          (when (= i (quot derefs 5))
            (reset! rss0 (u/rss-kb))
            (reset! heap0 (u/heap-used)))))
      (is (= (* derefs 101) @sum))
      (let [end (settle a)]
        (is (zero? (:snapshots end)) "every view's snapshot ended")
        (is (zero? (:readers end)) "nothing pins the domain")
        ;; slack: the library's own reclamation bookkeeping grows by about
        ;; 600 bytes per reclamation deferred by a reader, up to about 84 KB
        ;; in all (bounded); a leak of anything per deref would be megabytes
        (is (<= (:live_bytes end) (+ (:live_bytes start) (* 96 1024))) "the domain holds what it held")
        (is (= (quot derefs 1000) (:n @a)))
        (println (format "   memory: %d derefs; RSS %d -> %d KiB, heap %d -> %d KiB, live %d -> %d bytes"
                         derefs @rss0 (u/rss-kb) (quot @heap0 1024) (quot (u/heap-used) 1024)
                         (:live_bytes start) (:live_bytes end)))
        (is (< (- (u/rss-kb) @rss0) (* rss-slack-mib 1024))
            (str "RSS grew less than " rss-slack-mib " MiB after the first fifth"))
        (is (< (u/heap-used) (* 128 1024 1024)) "the heap after GC is under 128 MiB")))))
