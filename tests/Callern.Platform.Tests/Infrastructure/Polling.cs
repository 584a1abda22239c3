namespace Callern.Platform.Tests.Infrastructure;

/// <summary>For effects of the app's background services, which the fake clock wakes but the test cannot await.</summary>
public static class Polling
{
    /// <summary>Reads until <paramref name="done"/> holds, up to 10 s of real time, and returns the last value read.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var value = await read();
            if (done(value) || DateTime.UtcNow > deadline)
            {
                return value;
            }
            await Task.Delay(20);
        }
    }
}
