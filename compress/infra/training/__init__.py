"""What training shares whatever it trains (the generative kind's LoRA backends and the token classifier):
the device and memory it runs in (`device`) and the step loop, schedule and step log (`loop`)."""
