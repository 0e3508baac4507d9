namespace EcrDaemon.Testing;

/// <summary>
/// Waiting for a condition with a deadline instead of sleeping: on timeout the test fails with
/// what was last seen (a TimeoutException). The deadline is generous, because a loaded 2-core machine is slow, but a
/// hang still ends the test with a message.
/// </summary>
public static class Poll
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>Polls <paramref name="condition"/> until it holds.</summary>
    public static Task Until(Func<bool> condition, Func<string> lastSeen, TimeSpan? deadline = null) =>
        UntilAsync(() => Task.FromResult(condition()), lastSeen, deadline);

    /// <summary>Polls an async probe until it returns true.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, Func<string> lastSeen, TimeSpan? deadline = null)
    {
        var end = DateTime.UtcNow + (deadline ?? Deadline);
        while (!await condition())
        {
            if (DateTime.UtcNow > end)
            {
                throw new TimeoutException($"condition not met within {(deadline ?? Deadline).TotalSeconds}s; last seen: {lastSeen()}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Awaits a task with the deadline; fails (rather than hangs) when it does not finish.</summary>
    public static async Task<T> Within<T>(Task<T> task, string what, TimeSpan? deadline = null)
    {
        await Within((Task)task, what, deadline);
        return await task;
    }

    public static async Task Within(Task task, string what, TimeSpan? deadline = null)
    {
        var finished = await Task.WhenAny(task, Task.Delay(deadline ?? Deadline));
        if (finished != task)
        {
            throw new TimeoutException($"{what} did not finish within {(deadline ?? Deadline).TotalSeconds}s");
        }

        await task;
    }
}
