(ns eve.watch-test
  "Watches see every change: made here (each one, in order, with its old
  and new value) and made by other processes (a chain of old -> new that
  accounts for every increment)."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [eve.core :as eve]
            [eve.test-util :as u]))

(use-fixtures :each u/with-tmp-dir)

(deftest watches-see-every-local-change
  (let [a (eve/atom {:id ::local :persistent (u/path "w.eve")} 0)
        seen (clojure.core/atom [])
        keys-seen (clojure.core/atom #{})]
    (add-watch a :w (fn [k r o n] (swap! keys-seen conj [k (identical? r a)]) (swap! seen conj [o n])))
    (dotimes [_ 1000] (swap! a inc))
    (is (= (mapv (fn [i] [i (inc i)]) (range 1000)) @seen))
    (is (= #{[:w true]} @keys-seen))
    (testing "reset!, compare-and-set!, swap-vals! and reset-vals! fire too"
      (reset! seen [])
      (reset! a 5000)
      (compare-and-set! a 5000 5001)
      (swap-vals! a inc)
      (reset-vals! a {:m [1]})
      (is (= [[1000 5000] [5000 5001] [5001 5002] [5002 {:m [1]}]] @seen)))
    (testing "two watches; remove-watch stops one"
      (reset! seen [])
      (let [other (clojure.core/atom 0)]
        (add-watch a :other (fn [_ _ _ _] (swap! other inc)))
        (reset! a 1)
        (remove-watch a :w)
        (reset! a 2)
        (reset! a 3)
        (is (= [[{:m [1]} 1]] @seen))
        (is (= 3 @other))
        (remove-watch a :other)))
    (testing "no watch: no watcher thread, changes go on"
      (reset! a 7)
      (is (= 7 @a)))))

(deftest watches-see-changes-by-other-processes
  (let [file (u/path "wp.eve")
        a (eve/atom {:id "counter" :persistent file} 0)
        seen (clojure.core/atom [])
        n 2000]
    (add-watch a :w (fn [_ _ o n] (swap! seen conj [o n])))
    (let [p (u/start (u/jvm-command 'eve.worker file "counter" n))]
      (is (zero? (.waitFor p))))
    (is (= n @a))
    ;; the watcher thread may still be notifying the last change: wait for it
    (loop [i 0]
      (when (and (< i 600) (not= n (second (peek @seen))))
        (Thread/sleep 50)
        (recur (inc i))))
    (let [s @seen]
      (is (seq s))
      (is (= 0 (ffirst s)) "starts at the value before")
      (is (= n (second (peek s))) "ends at the last value")
      (is (every? (fn [[o nv]] (< o nv)) s) "each notification is a change")
      (is (every? (fn [[[_ n1] [o2 _]]] (= n1 o2)) (partition 2 1 s)) "a chain: nothing missed")
      (is (= n (reduce + (map (fn [[o nv]] (- nv o)) s))) "every increment accounted for"))
    (remove-watch a :w)))
