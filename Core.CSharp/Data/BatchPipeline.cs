using System.Collections;

namespace Functional.Data;

/// <summary>Runs one epoch: for each batch of indices, <c>prepare</c> (inline, or ahead on worker
/// threads with a bounded queue) then <c>finish</c> on the consuming thread, in order.</summary>
/// <remarks>
/// With workers, at most <c>prefetch</c> batches are prepared ahead of the consumer; the workers take
/// batch numbers in increasing order, so the batch the consumer waits for always holds a slot and the
/// pipeline cannot deadlock. An exception in a worker surfaces, unchanged, when the consumer reaches
/// that batch. Disposing the enumerator (end of a <c>foreach</c>, a <c>break</c>) cancels and joins the
/// workers and frees prepared batches that were never finished.
/// The previous output is released (by <c>release</c>) when the next is requested and when the epoch
/// ends; an enumeration stopped early leaves its current output to the caller.
/// </remarks>
internal sealed class BatchPipeline<TPrepared, TOut> : IEnumerator<TOut>
{
    readonly int[][] batches;
    readonly Func<int[], TPrepared> prepare;
    readonly Func<TPrepared, TOut> finish;
    readonly Action<TPrepared> discard;
    readonly Action<TOut> release;
    readonly int workers;
    readonly TaskCompletionSource<TPrepared>[]? results;
    readonly SemaphoreSlim? slots;
    readonly CancellationTokenSource? cancel;
    readonly Thread[]? threads;
    int nextToPrepare;
    int position = -1;
    bool hasCurrent;
    TOut current = default!;
    bool disposed;

    public BatchPipeline(int[][] batches, Func<int[], TPrepared> prepare, Func<TPrepared, TOut> finish,
        Action<TPrepared> discard, Action<TOut> release, int workers, int prefetch)
    {
        this.batches = batches;
        this.prepare = prepare;
        this.finish = finish;
        this.discard = discard;
        this.release = release;
        this.workers = batches.Length == 0 ? 0 : Math.Min(workers, batches.Length);
        if (this.workers > 0)
        {
            results = new TaskCompletionSource<TPrepared>[batches.Length];
            for (int i = 0; i < results.Length; i++) results[i] = new TaskCompletionSource<TPrepared>(TaskCreationOptions.RunContinuationsAsynchronously);
            slots = new SemaphoreSlim(Math.Max(1, prefetch));
            cancel = new CancellationTokenSource();
            threads = new Thread[this.workers];
            for (int w = 0; w < threads.Length; w++)
            {
                threads[w] = new Thread(Work) { IsBackground = true, Name = $"Functional.DataLoader worker {w}" };
                threads[w].Start();
            }
        }
    }

    void Work()
    {
        var token = cancel!.Token;
        while (!token.IsCancellationRequested)
        {
            try { slots!.Wait(token); }
            catch (OperationCanceledException) { return; }
            var i = Interlocked.Increment(ref nextToPrepare) - 1;
            if (i >= batches.Length) { slots!.Release(); return; }
            try
            {
                results![i].SetResult(prepare(batches[i]));
            }
            catch (Exception e)
            {
                results![i].SetException(e);
            }
        }
    }

    public TOut Current => hasCurrent ? current : throw new InvalidOperationException("The enumeration has not started or has ended.");

    object? IEnumerator.Current => Current;

    public bool MoveNext()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (hasCurrent)
        {
            hasCurrent = false;
            release(current);
            current = default!;
        }
        if (position + 1 >= batches.Length) { position = batches.Length; return false; }
        position++;
        TPrepared prepared;
        if (workers == 0)
        {
            prepared = prepare(batches[position]);
        }
        else
        {
            var task = results![position].Task;
            try
            {
                prepared = task.GetAwaiter().GetResult();
            }
            finally
            {
                slots!.Release();
            }
        }
        TOut output;
        try
        {
            output = finish(prepared);
        }
        catch
        {
            discard(prepared);
            throw;
        }
        current = output;
        hasCurrent = true;
        return true;
    }

    public void Reset() => throw new NotSupportedException("A loader's epoch cannot be rewound: enumerate the loader again for a new epoch.");

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (threads is null) return;
        cancel!.Cancel();
        foreach (var t in threads) t.Join();
        for (int i = position + 1; i < results!.Length; i++)
        {
            var task = results[i].Task;
            if (task.IsCompletedSuccessfully) discard(task.Result);
        }
        cancel.Dispose();
        slots!.Dispose();
    }
}
