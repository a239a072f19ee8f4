; Planted bug: a barrier that only threads 0..15 of each 64-thread block reach; the others return.
; The tile IR cannot express this (its scalars are uniform across a block), so the kernel is written
; the way codegen/devops_sim.c lowers code: tid.x read from the thread state, the barrier a call.
; EXPECT: sim: divergent barrier in kernel divergent_barrier, block (0,0,0): threads 0..15 wait at 'barrier (divergent_barrier.ll:18)', threads 16..63 exited without reaching it
@site = private unnamed_addr constant [34 x i8] c"barrier (divergent_barrier.ll:18)\00"

declare ptr @__kiln_sim_thread()
declare void @__kiln_sim_barrier(ptr)

define void @divergent_barrier(ptr %x, ptr %y, i32 %n) {
entry:
  %ts = call ptr @__kiln_sim_thread()
  %p = getelementptr i8, ptr %ts, i64 8
  %tid = load i32, ptr %p
  %lo = icmp ult i32 %tid, 16
  br i1 %lo, label %wait, label %done
wait:
  call void @__kiln_sim_barrier(ptr @site)
  br label %done
done:
  ret void
}
