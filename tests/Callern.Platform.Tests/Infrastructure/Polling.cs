namespace Callern.Platform.Tests.Infrastructure;

/// <summary>For effects of the app's background services, which the fake clock wakes but the test cannot await.</summary>
public static class Polling
{
    /// <summary>
    /// Reads until <paramref name="done"/> holds, up to <paramref name="within"/> (10 s) of real time, and
    /// returns the last value read. About 500 reads at most, so a long wait stays under the API's rate limit.
    /// </summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan? within = null)
    {
        var wait = within ?? TimeSpan.FromSeconds(10);
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var value = await read();
            if (done(value) || DateTime.UtcNow > deadline)
            {
                return value;
            }
            await Task.Delay(wait / 500);
        }
    }
}
