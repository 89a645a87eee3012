"""Pictures drawn with Pillow: segment images, the presenter avatar, thumbnails."""
